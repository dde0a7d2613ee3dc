"""Client side of attach and exec: the hijacked connection, raw terminal mode, window
size, and Docker's multiplexed stdout/stderr frames."""

import os
import select
import signal
import socket
import struct
import sys
import termios
import tty as ttymod
from contextlib import contextmanager


@contextmanager
def raw_terminal(enabled: bool):
    if not enabled or not os.isatty(0):
        yield
        return
    old = termios.tcgetattr(0)
    try:
        ttymod.setraw(0)
        yield
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)


def terminal_size() -> tuple[int, int]:
    try:
        sz = os.get_terminal_size(1)
        return sz.lines, sz.columns
    except OSError:
        return 24, 80


def on_resize(fn) -> None:
    if os.isatty(1):
        signal.signal(signal.SIGWINCH, lambda *_: fn(*terminal_size()))


def output(tty: bool):
    """Where a container's stream goes: raw to stdout for a tty, else demultiplexed."""
    if not tty:
        return Demux().feed

    def raw(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return raw


class Demux:
    """Split Docker's 8-byte-header frames into stdout and stderr."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = struct.unpack(">BxxxI", self.buf[:8])
            if len(self.buf) < 8 + size:
                return
            payload, self.buf = self.buf[8:8 + size], self.buf[8 + size:]
            out = sys.stdout.buffer if stream != 2 else sys.stderr.buffer
            out.write(payload)
            out.flush()


def pump(sock: socket.socket, rest: bytes, *, tty: bool, stdin: bool) -> bool:
    """Copy stdin to the socket and the socket to stdout/stderr until the stream ends;
    True when the user detached (ctrl-p ctrl-q) rather than the container ending."""
    emit = output(tty)
    if rest:
        emit(rest)
    in_open = stdin
    detached = False
    while True:
        rl = [sock] + ([0] if in_open else [])
        r, _, _ = select.select(rl, [], [])
        if sock in r:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return detached
            emit(data)
        if in_open and 0 in r:
            data = os.read(0, 65536)
            if not data:
                in_open = False
                try:
                    # the TCP half-close under a TLS session too (SSLSocket.shutdown would
                    # drop TLS, and the daemon's answer with it); the daemon reads EOF
                    socket.socket.shutdown(sock, socket.SHUT_WR)
                except OSError:
                    pass
                continue
            try:
                sock.sendall(data)
            except OSError:
                in_open = False
            if b"\x10\x11" in data:
                # The daemon detaches on ctrl-p ctrl-q; stop reading the terminal.
                in_open = False
                detached = True
