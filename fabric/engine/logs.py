"""Read a container's log: conmon's k8s-file records (`TIME STREAM F|P TEXT` per line, P
a partial line that the next record of its stream continues) across the files of its
rotation (fabric.engine.logfiles), without ever holding more than a block of them.

- `--tail N` reads backwards from the end until N lines are found;
- `--since T` finds its place by bisection (records are in time order);
- both then read forward from there, and `-f` goes on from the end, from file to file
  as conmon rotates them.

As Docker, --tail picks the last N lines first, then --since and --until filter them.
"""

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO, NamedTuple

from fabric.engine import logfiles

BLOCK = 1 << 16


class Record(NamedTuple):
    ts: str
    stream: str
    partial: bool
    data: bytes          # with its newline unless partial


def parse(line: bytes) -> Record | None:
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    data = parts[3] if len(parts) > 3 else b""
    partial = parts[2] == b"P"
    return Record(parts[0].decode(), parts[1].decode(), partial,
                  data if partial else data + b"\n")


def seconds(ts: str) -> float:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def docker_ts(ts: str) -> str:
    """conmon writes +00:00; Docker prints RFC 3339 with nanoseconds and Z."""
    if ts.endswith("+00:00"):
        ts = ts[:-6] + "Z"
    return ts


class _Open:
    """A log file held open, so a rotation that deletes it does not cut a read short."""

    def __init__(self, info: logfiles.LogFile, f: BinaryIO):
        self.info, self.f = info, f
        self.size = os.fstat(f.fileno()).st_size


def _lines_backward(f: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for the whole lines before `end`, the last first; reads only the
    blocks it needs."""
    f.seek(max(0, end - 1))
    if end and f.read(1) != b"\n":
        # the last line is being written: it is not there yet
        end = _last_newline(f, end)
    buf, bstart, cur = b"", end, end       # buf = data[bstart:cur]; lines end at cur-1
    while cur > 0:
        i = buf.rfind(b"\n", 0, cur - 1 - bstart) if cur - 1 > bstart else -1
        if i < 0 and bstart > 0:
            nstart = max(0, bstart - BLOCK)
            f.seek(nstart)
            buf = f.read(bstart - nstart) + buf[:cur - bstart]
            bstart = nstart
            continue
        start = bstart + i + 1
        yield start, buf[start - bstart: cur - 1 - bstart]
        cur = start


def _last_newline(f: BinaryIO, end: int) -> int:
    """The offset just after the last newline before `end` (0 when there is none)."""
    pos = end
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        i = f.read(pos - start).rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


class LogReader:
    """One request's view of a container's log."""

    def __init__(self, log_path: str, streams: set[str]):
        self.dir = os.path.dirname(log_path)
        self.streams = streams
        self._open: dict[int, _Open] = {}      # by inode

    def close(self) -> None:
        for o in self._open.values():
            o.f.close()
        self._open.clear()

    def _get(self, info: logfiles.LogFile) -> _Open | None:
        o = self._open.get(info.ino)
        if o is None:
            try:
                f = open(info.path, "rb")  # noqa: SIM115 (closed by close())
            except FileNotFoundError:
                return None
            o = self._open[info.ino] = _Open(info, f)
        return o

    # ---- where to start ------------------------------------------------------------------
    def end(self, files: list[logfiles.LogFile]) -> tuple[int, int]:
        """After the last whole line (`--tail 0`)."""
        for idx in range(len(files) - 1, -1, -1):
            o = self._get(files[idx])
            if o is not None:
                return idx, _last_newline(o.f, o.size)
        return 0, 0

    def tail_start(self, files: list[logfiles.LogFile], n: int) -> tuple[int, int]:
        """(file index, offset) of the last n lines of the wanted streams. A line is a
        F record and the P records of its stream before it; a P run at the very end is
        a line still being written."""
        inside: set[str] = set()
        count = 0
        for idx in range(len(files) - 1, -1, -1):
            o = self._get(files[idx])
            if o is None:
                continue
            for off, line in _lines_backward(o.f, o.size):
                rec = parse(line)
                if rec is None or rec.stream not in self.streams:
                    continue
                if not rec.partial or rec.stream not in inside:
                    if count == n:
                        return idx, off + len(line) + 1
                    count += 1
                    inside.add(rec.stream)
        return 0, 0

    def since_start(self, files: list[logfiles.LogFile], since: float) -> tuple[int, int]:
        """(file index, offset) at or a little before the first record at `since`."""
        for idx in range(len(files) - 1, -1, -1):
            o = self._get(files[idx])
            if o is None:
                continue
            o.f.seek(0)
            first = parse(o.f.readline().rstrip(b"\n"))
            if first is not None and seconds(first.ts) < since:
                return idx, self._bisect(o, since)
        return 0, 0

    @staticmethod
    def _bisect(o: _Open, since: float) -> int:
        lo, hi = 0, o.size       # every line before lo is older than `since`
        while hi - lo > BLOCK:
            mid = (lo + hi) // 2
            o.f.seek(mid)
            o.f.readline()
            at = o.f.tell()
            rec = parse(o.f.readline().rstrip(b"\n")) if at < hi else None
            if at >= hi or rec is None or seconds(rec.ts) >= since:
                hi = mid if at >= hi else at
            else:
                lo = o.f.tell()
        return lo

    # ---- reading forward ------------------------------------------------------------------
    def records(self, files: list[logfiles.LogFile], start: tuple[int, int], follow: bool,
                alive: Callable[[], bool]) -> Iterator[Record | None]:
        """Records from `start` on; with follow, until the container stops and the log is
        drained. None is yielded whenever the reader has caught up (a moment to flush)."""
        idx, offset = start
        # the newest numbered file at or before the start: a successor is newer than it
        seen = max((f.number for f in files[:idx + 1] if f.number is not None), default=0)
        cur: _Open | None = None
        carry = b""
        while True:
            if cur is None:
                if idx >= len(files):
                    if not follow:
                        return
                    files = logfiles.files(self.dir)
                    idx, offset = _successor(files, None, seen), 0
                    if idx < len(files):
                        continue
                    if not alive():
                        return
                    yield None
                    time.sleep(0.1)
                    continue
                cur = self._get(files[idx])
                if cur is None:                # deleted by rotation before it was opened
                    idx, offset = idx + 1, 0
                    continue
                seen = max(seen, cur.info.number or 0)
                cur.f.seek(offset)
                carry = b""
            chunk = cur.f.read(BLOCK)
            if chunk:
                lines = (carry + chunk).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    rec = parse(line)
                    if rec is not None and rec.stream in self.streams:
                        yield rec
                continue
            # the end of this file, for now
            replaced = logfiles.live_ino(self.dir) != cur.info.ino
            if replaced or not follow:
                # Once replaced, conmon has closed it: read what came before the rename,
                # then nothing more comes, and the next file takes over.
                if replaced and _more(cur.f):
                    continue
                if idx + 1 >= len(files) and follow:
                    files = logfiles.files(self.dir)
                    idx = _successor(files, cur.info.ino, seen) - 1
                cur, idx, offset = None, idx + 1, 0
                if idx >= len(files) and not follow:
                    return
                continue
            yield None
            if not alive():
                if _more(cur.f):               # written just before the exit
                    continue
                return
            time.sleep(0.05)


def _more(f: BinaryIO) -> bool:
    if f.read(1):
        f.seek(-1, os.SEEK_CUR)
        return True
    return False


def _successor(files: list[logfiles.LogFile], ino: int | None, seen: int) -> int:
    """Index of the file that follows the one read (by inode while it is listed), else
    of the first newer than any read; len(files) when there is none yet."""
    for i, f in enumerate(files):
        if f.ino == ino:
            return i + 1
    return next((i for i, f in enumerate(files) if f.number is None or f.number > seen),
                len(files))


def read(log_path: str, streams: set[str], tail: int | None, since: float | None,
         until: float | None, follow: bool,
         alive: Callable[[], bool]) -> Iterator[Record | None]:
    """The records a `logs` request shows, in order; None marks a moment to flush."""
    reader = LogReader(log_path, streams)
    try:
        files = logfiles.files(reader.dir)
        if tail is not None and tail >= 0:
            start = reader.tail_start(files, tail) if tail else reader.end(files)
        elif since:
            start = reader.since_start(files, since)
        else:
            start = (0, 0)
        for rec in reader.records(files, start, follow, alive):
            if rec is not None and (since or until):
                t = seconds(rec.ts)
                if since and t < since:
                    continue
                if until and t > until:
                    return
            yield rec
    finally:
        reader.close()
