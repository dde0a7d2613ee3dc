"""Waiting for a file in a directory to change, through inotify (ctypes; no package).

The embedded store's watchers use it to wake the moment another host commits: every
writing transaction rings a doorbell file beside the database once its commit is
visible (sqlite_kv.py), which inotify reports on the directory's watch. The
directory is watched rather than the file, so a doorbell made after the watch began
is seen too. A wake-up is only a hint to re-read the revision, so spurious ones are
cheap and a lost one costs at most the caller's backstop interval.
"""

import ctypes
import os
import select
import struct

IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")   # wd, mask, cookie, len; then the name, len bytes

_libc = ctypes.CDLL(None, use_errno=True)


class DirWatch:
    """Changes to the files `names` in `directory`."""

    def __init__(self, directory: str, names: frozenset[str]):
        self.names = names
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        wd = _libc.inotify_add_watch(fd, os.fsencode(directory),
                                     IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
        if wd < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {directory}")
        self.fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for a change to one of the files; True when
        one (or a queue overflow, which may hide one) was seen."""
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return False
        return self._drain()

    def _drain(self) -> bool:
        hit = False
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return hit
            off = 0
            while off + _EVENT.size <= len(buf):
                _wd, mask, _cookie, length = _EVENT.unpack_from(buf, off)
                name = buf[off + _EVENT.size:off + _EVENT.size + length].rstrip(b"\0")
                off += _EVENT.size + length
                if mask & IN_Q_OVERFLOW or os.fsdecode(name) in self.names:
                    hit = True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
