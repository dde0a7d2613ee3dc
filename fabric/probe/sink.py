"""TCP with bytes: the prober opens a sink on `port` in the target's namespace,
carries the bytes to it and counts what arrived there; ok only if all of it did.

The sink is a listening socket made in that namespace and read by a thread of ours,
so nothing runs in the target (any image can be tested) and nothing outlives the
probe: the thread ends by the probe's deadline and closes what it opened.
"""

import errno
import socket
import threading
import time
from contextlib import ExitStack

from fabric.errors import Conflict
from fabric.net import nsexec
from fabric.probe.attempt import Attempt
from fabric.probe.model import Outcome, Probe
from fabric.probe.stream import ABORT, Matcher, connect

CHUNK = 1 << 18
BIND_RETRY = 0.05
TICK = 0.1          # how soon the sink's thread notices it is no longer wanted


def _listener(port: int) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(4)
        s.setblocking(False)
    except OSError as e:
        s.close()
        if e.errno == errno.EADDRINUSE:
            return None
        raise
    return s


class Sink:
    def __init__(self, netns: str, port: int, nbytes: int, deadline: float):
        self.deadline = deadline
        self.nbytes = nbytes
        self.count = 0
        self.done: float | None = None
        self.stopping = threading.Event()
        # another probe's sink on the same port: wait for it to finish
        while (listener := nsexec.run(netns, _listener, port)) is None:
            if time.monotonic() + BIND_RETRY > deadline:
                raise Conflict(f"probe: port {port} is in use in {netns}: "
                               f"cannot open a sink there")
            time.sleep(BIND_RETRY)
        self.listener = listener
        self.thread = threading.Thread(target=self._serve, name=f"sink:{port}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.listener:
            conn = self._accept()
        if conn is None:
            return
        # The sink, knowing the count, ends the connection with a reset once all of
        # it arrived: neither end then keeps a TIME_WAIT socket for a minute.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT)
        with conn:
            buf = bytearray(CHUNK)
            while self._wanted():
                conn.settimeout(TICK)
                try:
                    n = conn.recv_into(buf)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if n == 0:
                    return
                self.count += n
                if self.count >= self.nbytes:
                    self.done = time.monotonic()
                    return

    def _wanted(self) -> bool:
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def _accept(self) -> socket.socket | None:
        self.listener.settimeout(TICK)
        while self._wanted():
            try:
                conn, _ = self.listener.accept()
                return conn
            except (TimeoutError, InterruptedError):
                continue
        return None

    def wait(self) -> None:
        """Until the stream ended (or the deadline passed)."""
        self.thread.join(max(0.0, self.deadline - time.monotonic()) + 1.0)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def probe(src_netns: str | None, p: Probe, stack: ExitStack) -> tuple[Outcome, Matcher]:
    assert p.sink_netns is not None and p.nbytes is not None and p.port is not None
    t0 = time.monotonic()
    sink = Sink(p.sink_netns, p.port, p.nbytes, t0 + p.timeout)
    stack.callback(sink.stop)
    at, sock, outcome, mine = connect(src_netns, p, stack)
    if outcome.result != "ok":
        return outcome, mine
    sent = _carry(at, sock, p.nbytes)
    sink.wait()
    if sink.done is not None and sink.count == p.nbytes:
        secs = sink.done - at.t0
        mbit = p.nbytes * 8 / secs / 1e6 if secs > 0 else float("inf")
        return Outcome("ok", f"{p.nbytes} bytes in {secs:.3f} s ({mbit:.1f} Mbit/s)",
                       secs), mine
    # the expectation runner hands a retry what is left of `within` (2.99998 s)
    return at.blocked(f"{sink.count} of {p.nbytes} bytes arrived within "
                      f"{round(p.timeout, 1):g} s ({sent} sent)"), mine


def _carry(at: Attempt, sock: socket.socket, nbytes: int) -> int:
    """Send nbytes; returns how many the kernel took."""
    data = memoryview(bytes(min(nbytes, CHUNK)))
    sent = 0
    while sent < nbytes:
        if at.wait([], [sock]) is None:
            return sent
        try:
            sent += sock.send(data[:min(len(data), nbytes - sent)])
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            return sent
    return sent
