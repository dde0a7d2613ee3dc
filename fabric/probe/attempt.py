"""One try of a probe: its clock, and the outcomes it can end in."""

import errno
import os
import select
import socket
import time
from dataclasses import dataclass, field

from fabric.probe import packets
from fabric.probe.model import Outcome, Probe

# an error or hangup makes a socket "ready": the next call on it says what happened
_DONE = select.POLLERR | select.POLLHUP


@dataclass
class Attempt:
    probe: Probe
    t0: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        return self.t0 + self.probe.timeout

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def since(self) -> float:
        return time.monotonic() - self.t0

    def ms(self) -> str:
        return f"{self.since() * 1000:.2f} ms"

    def outcome(self, result: str, detail: str) -> Outcome:
        return Outcome(result, detail, self.since())

    def ok(self, detail: str) -> Outcome:
        return self.outcome("ok", detail)

    def refused(self, detail: str) -> Outcome:
        return self.outcome("refused", detail)

    def blocked(self, detail: str) -> Outcome:
        return self.outcome("blocked", detail)

    def silence(self, what: str = "no answer") -> Outcome:
        return self.blocked(f"{what} within {self.probe.timeout:g} s")

    def icmp(self, err: packets.IcmpError) -> Outcome:
        return (self.refused if err.refused() else self.blocked)(err.describe())

    def local(self, code: int, doing: str = "cannot send") -> Outcome:
        """The source's own stack refused: no route, an unreachable or prohibit route,
        or a firewall rule in the source's namespace (EPERM)."""
        if code == errno.ECONNREFUSED:
            return self.refused(f"connection refused by {self.probe.dst}")
        return self.blocked(f"{doing}: {os.strerror(code)}")

    def wait(self, rlist: list[socket.socket], wlist: list[socket.socket] | None = None
             ) -> tuple[list, list] | None:
        """Wait until a socket is ready; None once the try's time is up.

        poll, not select: a busy process (a lab running dozens of probes beside its
        daemon connections) may hold descriptors above select's limit of 1024."""
        left = self.remaining()
        if left <= 0:
            return None
        masks: dict[int, int] = {}
        for s in rlist:
            masks[s.fileno()] = masks.get(s.fileno(), 0) | select.POLLIN
        for s in wlist or []:
            masks[s.fileno()] = masks.get(s.fileno(), 0) | select.POLLOUT
        poller = select.poll()
        for fd, mask in masks.items():
            poller.register(fd, mask)
        ready = dict(poller.poll(left * 1000))
        if not ready:
            return None
        r = [s for s in rlist if ready.get(s.fileno(), 0) & (select.POLLIN | _DONE)]
        w = [s for s in wlist or [] if ready.get(s.fileno(), 0) & (select.POLLOUT | _DONE)]
        return r, w
