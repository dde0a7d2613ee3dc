"""The daemon's side of log rotation (fabric.engine.logfiles): one thread on inotify,
told within milliseconds each time conmon renames a running container's next log file
into place, and keeping the file it replaced.

inotify through ctypes: the standard library has no binding, and polling every running
container's file would notice a fast writer's rotations too late."""

import ctypes
import os
import select
import struct
import sys
import threading

from fabric.engine import logfiles

_IN_MOVED_TO = 0x00000080
_IN_IGNORED = 0x00008000          # the watch is gone (its directory was removed)
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000
_EVENT = struct.Struct("iIII")    # wd, mask, cookie, len; then len bytes of name


class LogKeeper:
    """Runs logfiles.keep() for a container's log directory under one lock: at start
    and exit (called), and whenever conmon renames its next file (inotify)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1
        self._watched: dict[int, tuple[str, int]] = {}   # wd -> (directory, max_file)
        self._wd: dict[str, int] = {}
        self._libc: ctypes.CDLL | None = None

    def keep(self, cdir: str, max_file: int) -> None:
        with self._lock:
            logfiles.keep(cdir, max_file)

    def start_fresh(self, cdir: str, max_file: int, max_size: int) -> None:
        with self._lock:
            logfiles.start_fresh(cdir, max_file, max_size)

    def watch(self, cdir: str, max_file: int) -> None:
        """Keep conmon's files from now on (and any renamed before the watch was set)."""
        with self._lock:
            if self._fd < 0:
                self._start()
            assert self._libc is not None
            wd = self._libc.inotify_add_watch(self._fd, cdir.encode(), _IN_MOVED_TO)
            if wd < 0:
                err = ctypes.get_errno()
                print(f"log rotation: cannot watch {cdir}: {os.strerror(err)}",
                      file=sys.stderr)
            else:
                self._watched[wd] = (cdir, max_file)
                self._wd[cdir] = wd
            logfiles.keep(cdir, max_file)

    def unwatch(self, cdir: str, max_file: int) -> None:
        """The container stopped: keep its last rename, stop watching."""
        with self._lock:
            wd = self._wd.pop(cdir, None)
            if wd is not None and self._watched.pop(wd, None) is not None and self._libc:
                self._libc.inotify_rm_watch(self._fd, wd)
            if os.path.isdir(cdir):
                logfiles.keep(cdir, max_file)

    def _start(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._libc, self._fd = libc, fd
        threading.Thread(target=self._run, daemon=True, name="log-rotation").start()

    def _run(self) -> None:
        while True:
            select.select([self._fd], [], [])
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            for wd, mask, name in _events(data):
                with self._lock:
                    if mask & _IN_IGNORED:
                        cdir = self._watched.pop(wd, ("", 0))[0]
                        self._wd.pop(cdir, None)
                        continue
                    target = self._watched.get(wd)
                    if target is None or name != logfiles.LIVE:
                        continue
                    try:
                        logfiles.keep(*target)
                    except OSError as e:   # the container being removed meanwhile
                        print(f"log rotation in {target[0]}: {e}", file=sys.stderr)


def _events(data: bytes):
    off = 0
    while off + _EVENT.size <= len(data):
        wd, mask, _cookie, length = _EVENT.unpack_from(data, off)
        name = data[off + _EVENT.size: off + _EVENT.size + length].rstrip(b"\0")
        yield wd, mask, name.decode(errors="replace")
        off += _EVENT.size + length
