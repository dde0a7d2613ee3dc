"""Attach hijacked API connections to a container's stdio through conmon's attach
socket. Each client gets its own connection to conmon, which fans output out itself.

An attach made before start (what `run` does, so no output is lost) waits until conmon
has created the container, connects, and only then lets `runc start` run.
"""

import os
import select
import socket
import struct
import threading

from fabric.errors import FabricError, NotRunning
from fabric.runtime import conmon
from fabric.socketwatch import peer_gone

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q, Docker's default
STDOUT, STDERR = 1, 2


def frame(stream: int, data: bytes) -> bytes:
    """Docker's multiplexed stream header: stream, 3 zero bytes, big-endian length."""
    return struct.pack(">BxxxI", stream, len(data)) + data


class _Pending:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.connected = threading.Event()
        self.failed = False


class AttachHub:
    def __init__(self, engine):
        self.engine = engine
        self._pending: dict[str, list[_Pending]] = {}
        self._lock = threading.Lock()

    def container_created(self, cid: str) -> None:
        with self._lock:
            waiting = self._pending.pop(cid, [])
        for p in waiting:
            p.ready.set()
        for p in waiting:
            p.connected.wait(5)

    def container_failed(self, cid: str) -> None:
        with self._lock:
            waiting = self._pending.pop(cid, [])
        for p in waiting:
            p.failed = True
            p.ready.set()

    def _connect(self, cid: str) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Socket paths are limited to 108 bytes and a container directory under a lab
        # host's root can be longer: connect through a directory descriptor instead.
        dfd = os.open(self.engine.containers.cdir(cid), os.O_PATH | os.O_DIRECTORY)
        try:
            s.connect(f"/proc/self/fd/{dfd}/attach")
        except OSError as e:
            s.close()
            raise NotRunning("cannot attach: the container is not running "
                             f"({e.strerror})") from None
        finally:
            os.close(dfd)
        return s

    def open(self, cid: str, wait_start: bool) -> tuple[socket.socket | None, _Pending | None]:
        """Connect now when running; otherwise register to be connected at start."""
        doc = self.engine.containers.get(cid)
        if doc["State"]["Status"] in ("running", "paused"):
            return self._connect(cid), None
        if not wait_start:
            raise NotRunning("You cannot attach to a stopped container, start it first")
        p = _Pending()
        with self._lock:
            self._pending.setdefault(cid, []).append(p)
        return None, p

    def wait_connect(self, cid: str, p: _Pending, client: socket.socket) -> socket.socket | None:
        while not p.ready.wait(0.5):
            # Give up when the client went away before the container started.
            if peer_gone(client, half_close_counts=False):
                with self._lock:
                    if p in self._pending.get(cid, []):
                        self._pending[cid].remove(p)
                return None
        if p.failed:
            return None
        try:
            return self._connect(cid)
        finally:
            p.connected.set()

    def pump(self, ctr: socket.socket, client: socket.socket, *, tty: bool, stdin: bool,
             stdout: bool, stderr: bool, stdin_once: bool) -> None:
        """Copy until the container's output ends or the client detaches."""
        client_open = stdin
        scan = b""
        try:
            while True:
                rl = [ctr] + ([client] if client_open else [])
                r, _, _ = select.select(rl, [], [])
                if ctr in r:
                    data = ctr.recv(65536)
                    if not data:
                        return
                    kind, payload = data[0], data[1:]
                    if kind == 2 and stdout or kind == 3 and stderr:
                        out = payload if tty else frame(STDOUT if kind == 2 else STDERR, payload)
                        try:
                            client.sendall(out)
                        except OSError:
                            return
                if client_open and client in r:
                    try:
                        # a whole TLS record: select() cannot see one left half read
                        data = client.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        client_open = False
                        if stdin_once:
                            ctr.shutdown(socket.SHUT_WR)
                        if not (stdout or stderr):
                            return
                        continue
                    scan = (scan + data)[-len(DETACH_KEYS):]
                    if DETACH_KEYS in scan or data.endswith(DETACH_KEYS):
                        idx = data.find(DETACH_KEYS)
                        if idx > 0:
                            ctr.sendall(data[:idx])
                        return
                    for i in range(0, len(data), 4096):
                        ctr.sendall(data[i:i + 4096])
        finally:
            ctr.close()

    def resize(self, cid: str, height: int, width: int) -> None:
        path = conmon.ctl_fifo(self.engine.containers.cdir(cid))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            raise FabricError(f"cannot resize the container's terminal: {e.strerror}") from None
        try:
            os.write(fd, f"1 {height} {width}\n".encode())
        finally:
            os.close(fd)
