"""Progress of `lab up` and `lab down`, per host and per container.

On a terminal one line per subject, rewritten in place as it moves on; otherwise (CI
logs, files) a plain line per step, so the log reads top to bottom.
"""

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

Say = Callable[[str, str], None]    # (subject, what it is doing now)


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.lines: dict[str, str] = {}
        self.drawn = 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, subject: str, text: str) -> None:
        with self.lock:
            if not self.tty:
                self.stream.write(f"{subject}: {text}\n")
                self.stream.flush()
                return
            self.lines[subject] = text
            self._draw()

    def _draw(self) -> None:
        width = max(len(s) for s in self.lines)
        out = "\x1b[F" * self.drawn if self.drawn else ""
        out += "".join(f"\x1b[2K{s.ljust(width)}  {t}\n" for s, t in self.lines.items())
        self.drawn = len(self.lines)
        self.stream.write(out)
        self.stream.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def quiet(subject: str, text: str) -> None:
    """A progress sink that says nothing."""
