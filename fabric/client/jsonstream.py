"""Docker's JSON message streams (pull, push, build) shown as the docker CLI shows them:
on a terminal one line per layer, rewritten in place as its progress moves; elsewhere
one line per change of state, without the byte counts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator


class StreamError(Exception):
    """The daemon reported a failure inside the stream (after output had started)."""

    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.message, self.code = message, code


def messages(resp) -> Iterator[dict]:
    resp.raise_for_status()
    buf = b""
    for chunk in resp.chunks():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if buf.strip():
        yield json.loads(buf)


class Display:
    def __init__(self, out=None, tty: bool | None = None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.rows: list[str] = []           # ids on screen, top to bottom (terminal only)
        self.last: dict[str, str] = {}      # last status per id (elsewhere)
        self.aux: list[dict] = []

    def show(self, msg: dict) -> None:
        if msg.get("errorDetail") or msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(detail.get("message") or msg.get("error") or "failed",
                              int(detail.get("code") or 0))
        if "aux" in msg:
            self.aux.append(msg["aux"])
            return
        if "stream" in msg:
            self.out.write(msg["stream"])
            self.out.flush()
            return
        text = msg.get("status", "")
        ident = msg.get("id")
        if not ident:
            self.rows = []
            self.out.write(text + "\n")
        elif self.tty:
            self._row(ident, f"{ident}: {text} {msg.get('progress') or ''}".rstrip())
        elif (msg.get("progressDetail") or {}).get("total") is None and \
                self.last.get(ident) != text:
            self.last[ident] = text
            self.out.write(f"{ident}: {text}\n")
        self.out.flush()

    def _row(self, ident: str, line: str) -> None:
        if ident not in self.rows:
            self.rows.append(ident)
            self.out.write(f"\x1b[2K\r{line}\n")
            return
        up = len(self.rows) - self.rows.index(ident)
        self.out.write(f"\x1b[{up}A\x1b[2K\r{line}\r\x1b[{up}B")


def show_stream(resp, out=None, tty: bool | None = None) -> list[dict]:
    """Render every message; the aux records (push digest, build id) are returned."""
    d = Display(out, tty)
    for msg in messages(resp):
        d.show(msg)
    return d.aux
