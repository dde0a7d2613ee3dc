"""The files of one container's log, and how fabric rotates them.

conmon writes `ctr.log` (k8s-file format) and, at --log-size-max, replaces it: it opens
`ctr.log.tmp` (truncating it) and renames that over `ctr.log`; conmon 2.1.6 keeps
nothing of the old file. fabric keeps up to max-file of them with hard links:

- every file conmon writes is also linked as `ctr.log.<n>`, n rising, so the rename
  only takes a name away from it;
- the next file is ready before conmon needs it: `ctr.log.tmp` is made empty and linked
  as the next `ctr.log.<n>`, so conmon's rename hands over a file already kept;
- `keep()` (run by the daemon when conmon renames, and at start, exit and daemon
  start) links a live file that is not linked yet, readies the next one and deletes
  the oldest beyond max-file.

Readers (fabric.engine.logs) take the files in number order, then `ctr.log` when its
inode is not among them (a rename the daemon has not handled yet). conmon closes a file
before it renames the next over `ctr.log`, so once `ctr.log` is another file nothing
more comes into the old one: a reader that reads a file to its end before the next one
neither loses nor repeats a line across a rotation. What is lost: a file conmon fills
and replaces before the daemon has handled the rename before it, i.e. two whole files
(40 MB at the default size) written in the milliseconds inotify takes; and, while no
daemon runs, every file but the last two.
"""

import os
from typing import NamedTuple

LIVE = "ctr.log"
NEXT = "ctr.log.tmp"      # the name conmon opens for its next file
_PREFIX = LIVE + "."


class LogFile(NamedTuple):
    path: str
    ino: int
    number: int | None     # its ctr.log.<n>; None for a live file not linked yet


def _numbered(cdir: str) -> list[tuple[int, str]]:
    try:
        names = os.listdir(cdir)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        n = name[len(_PREFIX):]
        if name.startswith(_PREFIX) and n.isdigit():
            found.append((int(n), os.path.join(cdir, name)))
    return sorted(found)


def files(cdir: str) -> list[LogFile]:
    """The log's files, oldest first."""
    out: list[LogFile] = []
    for n, path in _numbered(cdir):
        try:
            out.append(LogFile(path, os.stat(path).st_ino, n))
        except FileNotFoundError:
            pass   # pruned meanwhile
    try:
        live = os.stat(os.path.join(cdir, LIVE)).st_ino
    except FileNotFoundError:
        return out
    if all(f.ino != live for f in out):
        out.append(LogFile(os.path.join(cdir, LIVE), live, None))
    return out


def live_ino(cdir: str) -> int | None:
    try:
        return os.stat(os.path.join(cdir, LIVE)).st_ino
    except FileNotFoundError:
        return None


def _link_next(cdir: str, src: str, after: int) -> int:
    """Link src as the first free number above `after`; return the number."""
    n = after + 1
    while True:
        try:
            os.link(src, os.path.join(cdir, f"{_PREFIX}{n}"))
            return n
        except FileExistsError:
            n += 1


def keep(cdir: str, max_file: int) -> None:
    """Link the live file, ready the next one, delete the oldest beyond max_file. With
    max_file 1 nothing is kept: conmon's own truncation is the whole rotation."""
    numbered = _numbered(cdir)
    if max_file <= 1:
        for _n, path in numbered:
            os.unlink(path)
        return
    live = os.path.join(cdir, LIVE)
    by_ino = {}
    for n, path in numbered:
        try:
            by_ino[os.stat(path).st_ino] = n
        except FileNotFoundError:
            pass
    top = numbered[-1][0] if numbered else 0
    ino = live_ino(cdir)
    if ino is None:
        live_n = top
    elif ino in by_ino:
        live_n = by_ino[ino]
    else:
        try:
            live_n = top = _link_next(cdir, live, top)
        except FileNotFoundError:
            live_n = top   # replaced just now; the next call links its successor
    nxt = os.path.join(cdir, NEXT)
    if not os.path.lexists(nxt):
        # top is the highest number and keep() runs under one lock: it is free
        spare = os.path.join(cdir, f"{_PREFIX}{top + 1}")
        os.close(os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            os.link(spare, nxt)
        except FileExistsError:
            os.unlink(spare)   # conmon is making its own next file just now
    for n, path in numbered:
        if n <= live_n - max_file:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def start_fresh(cdir: str, max_file: int, max_size: int) -> None:
    """Before conmon starts: conmon counts a file's size from zero whatever it holds, so a
    live file already half full is rotated first (a file stays within 1.5 x max-size)."""
    live = os.path.join(cdir, LIVE)
    try:
        size = os.stat(live).st_size
    except FileNotFoundError:
        os.close(os.open(live, os.O_WRONLY | os.O_CREAT, 0o600))
        size = 0
    if size and size >= max_size // 2:
        if max_file <= 1:
            os.truncate(live, 0)
        else:
            keep(cdir, max_file)        # the live file linked, the next one ready
            os.rename(os.path.join(cdir, NEXT), live)
    keep(cdir, max_file)
