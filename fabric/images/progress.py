"""Docker's JSON progress messages (pull, push, build), one object per line.

`{"status": ..., "id": ..., "progressDetail": {"current", "total"}, "progress": bar}`
as Docker's daemon writes them, so the docker CLI and docker-py render fabric's pulls
and pushes as their own; errors are `{"errorDetail": {"message"}, "error"}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Emit = Callable[[dict], None]
BAR = 50


def human(n: float) -> str:
    """Docker's HumanSize: decimal units, four significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.4g}{unit}"
        n /= 1000
    return f"{n}B"


def bar(current: int, total: int) -> str:
    if total <= 0:
        return human(current)
    filled = min(BAR, BAR * current // total)
    arrow = ">" if filled < BAR else ""
    return (f"[{'=' * max(0, filled - len(arrow))}{arrow}{' ' * (BAR - filled)}] "
            f"{human(current):>8}/{human(total)}")


def status(text: str, ident: str | None = None) -> dict:
    msg: dict = {"status": text}
    if ident is not None:
        msg.update(progressDetail={}, id=ident)
    return msg


def moving(text: str, ident: str, current: int, total: int) -> dict:
    return {"status": text, "progressDetail": {"current": current, "total": total},
            "progress": bar(current, total), "id": ident}


def error(message: str, code: int = 0) -> dict:
    detail: dict = {"message": message}
    if code:
        detail["code"] = code
    return {"errorDetail": detail, "error": message}


class Throttle:
    """Byte progress for one layer, sent at most every `step` bytes (and at the end),
    so a fast local registry does not flood the client with lines."""

    def __init__(self, emit: Emit, text: str, ident: str, total: int, parts: int = 40):
        self.emit, self.text, self.ident, self.total = emit, text, ident, total
        self.step = max(1 << 16, total // parts)
        self.done = 0
        self._next = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self.done < self._next and self.done < self.total:
                return
            self._next = self.done + self.step
        self.emit(moving(self.text, self.ident, self.done, self.total))
