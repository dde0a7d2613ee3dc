"""Read conmon's k8s-file logs: `TIMESTAMP STREAM F|P TEXT` per line, where P marks a
partial line continued by the next record."""

import os
import time
from collections.abc import Iterator

from fabric.engine.timefmt import parse_iso


def records(path: str, follow: bool, alive) -> Iterator[tuple[str, str, bytes]]:
    """(timestamp, stream, data) tuples; with follow, keep reading until `alive()` is
    false and the file is drained."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        if not follow:
            return
        while not os.path.exists(path):
            if not alive():
                return
            time.sleep(0.1)
        f = open(path, "rb")
    with f:
        buf = b""
        while True:
            chunk = f.read(65536)
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    rec = _parse(ln)
                    if rec:
                        yield rec
                continue
            if not follow:
                return
            if not alive():
                # One last read: output written just before the exit.
                rest = f.read()
                for ln in (buf + rest).split(b"\n"):
                    rec = _parse(ln)
                    if rec:
                        yield rec
                return
            time.sleep(0.05)


def _parse(line: bytes) -> tuple[str, str, bytes] | None:
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0].decode(), parts[1].decode(), parts[2]
    data = parts[3] if len(parts) > 3 else b""
    if tag == b"F":
        data += b"\n"
    return ts, stream, data


def docker_ts(ts: str) -> str:
    """conmon writes +00:00; Docker prints RFC 3339 with nanoseconds and Z."""
    if ts.endswith("+00:00"):
        ts = ts[:-6] + "Z"
    return ts


def select_records(recs: list, tail: int | None, since: float | None,
                   until: float | None = None) -> list:
    if since:
        recs = [r for r in recs if parse_iso(docker_ts(r[0])) >= since]
    if until:
        recs = [r for r in recs if parse_iso(docker_ts(r[0])) <= until]
    if tail is not None and tail >= 0:
        recs = recs[-tail:] if tail else []
    return recs
