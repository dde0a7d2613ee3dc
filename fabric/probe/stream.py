"""TCP and UDP probes: a socket of the right kind in the source's namespace, with a
raw ICMP socket beside it for the errors that answer it, and the flow that identifies
the probe's packets."""

import errno
import secrets
import socket
import struct
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from fabric.probe import packets, sockets
from fabric.probe.attempt import Attempt
from fabric.probe.model import Outcome, Probe

Matcher = Callable[[packets.IPv4], bool]
# close() sends a reset instead of a FIN, so no TIME_WAIT socket stays behind in the
# source's namespace for a minute after each probe
ABORT = struct.pack("ii", 1, 0)


def nothing(pkt: packets.IPv4) -> bool:
    return False


@dataclass(frozen=True)
class Flow:
    proto: int
    src: str
    sport: int
    dst: str
    dport: int

    def matches(self, pkt: packets.IPv4) -> bool:
        """A packet of this flow, either way, also after NAT on the path: the source
        port is kept by SNAT and masquerade, so it must match with one of the two
        addresses (DNAT changes the destination, SNAT the source, rarely both)."""
        p = packets.ports(pkt)
        if pkt.proto != self.proto or p is None:
            return False
        if p[0] == self.sport:
            return pkt.src == self.src or pkt.dst == self.dst
        if p[1] == self.sport:
            return pkt.dst == self.src or pkt.src == self.dst
        return False

    def quoted_in(self, err: packets.IcmpError) -> bool:
        """An ICMP error about this flow (conntrack un-NATs the quoted datagram)."""
        return packets.ports(err.inner) == (self.sport, self.dport) and \
            err.inner.proto == self.proto and err.inner.dst == self.dst


def open_pair(src_netns: str | None, kind: int, stack: ExitStack, sport: int | None = None
              ) -> tuple[socket.socket, socket.socket]:
    def make() -> list[socket.socket]:
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT)
            if sport is not None:
                s.bind(("0.0.0.0", sport))
            s.setblocking(False)
            return [s, sockets.error_watch()]
        except BaseException:
            s.close()
            raise
    sock, watch = sockets.in_ns(src_netns, stack, make)
    return sock, watch


def flow_of(sock: socket.socket, proto: int, p: Probe) -> Flow:
    src, sport = sock.getsockname()
    return Flow(proto, src, sport, p.dst, p.port or 0)


def icmp_answer(at: Attempt, watch: socket.socket, flow: Flow) -> Outcome | None:
    for err in sockets.icmp_errors(watch):
        if flow.quoted_in(err):
            return at.icmp(err)
    return None


def connect(src_netns: str | None, p: Probe, stack: ExitStack
            ) -> tuple[Attempt, socket.socket, Outcome, Matcher]:
    """A TCP handshake: ok when it completes; a reset or an ICMP error quoting the SYN
    decides refused or blocked; silence until the timeout is blocked."""
    sock, watch = open_pair(src_netns, socket.SOCK_STREAM, stack, p.ident)
    at = Attempt(p)
    code = sock.connect_ex((p.dst, p.port or 0))
    flow = flow_of(sock, packets.TCP, p)   # connect chose the source address and port
    if code not in (0, errno.EINPROGRESS):
        return at, sock, at.local(code, "cannot connect"), flow.matches
    while (ready := at.wait([watch], [sock])) is not None:
        answer = icmp_answer(at, watch, flow)
        if answer is not None:
            return at, sock, answer, flow.matches
        if ready[1]:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            # a copy of an ICMP error reaches raw sockets before TCP acts on it, so
            # it is already queued on the watch when the connect fails because of it
            answer = icmp_answer(at, watch, flow)
            if answer is not None:
                return at, sock, answer, flow.matches
            if code == 0:
                return at, sock, at.ok(f"handshake in {at.ms()}"), flow.matches
            if code == errno.ECONNREFUSED:
                return at, sock, at.refused(f"TCP reset from {p.dst}:{p.port}"), flow.matches
            return at, sock, at.local(code, "cannot connect"), flow.matches
    return at, sock, at.silence("no answer to the handshake"), flow.matches


def tcp(src_netns: str | None, p: Probe, stack: ExitStack) -> tuple[Outcome, Matcher]:
    _at, _sock, outcome, mine = connect(src_netns, p, stack)
    return outcome, mine


def udp(src_netns: str | None, p: Probe, stack: ExitStack) -> tuple[Outcome, Matcher]:
    """One datagram: any datagram back is ok; an ICMP error quoting it decides refused
    or blocked; silence is blocked."""
    sock, watch = open_pair(src_netns, socket.SOCK_DGRAM, stack, p.ident)
    at = Attempt(p)
    token = b"fabric-probe " + secrets.token_hex(8).encode()
    try:
        sock.connect((p.dst, p.port or 0))
    except OSError as e:
        return at.local(e.errno or 0), nothing   # no route: nothing was sent
    flow = flow_of(sock, packets.UDP, p)

    def mine(pkt: packets.IPv4) -> bool:
        return flow.matches(pkt) or (pkt.proto == packets.UDP and token in pkt.payload)

    try:
        sock.send(token)
    except OSError as e:
        return at.local(e.errno or 0), mine
    while at.wait([sock, watch]) is not None:
        answer = icmp_answer(at, watch, flow)
        if answer is not None:
            return answer, mine
        try:
            data = sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionRefusedError:
            return at.refused(f"ICMP port unreachable from {p.dst}"), mine
        except OSError as e:
            return at.local(e.errno or 0, "no reply"), mine
        return at.ok(f"UDP reply of {len(data)} bytes in {at.ms()}"), mine
    return at.silence("no UDP reply"), mine
