"""ICMP echo: a reply is ok; an ICMP error quoting the request decides refused or
blocked; silence is blocked.

The request goes out of a raw socket, so its identifier and sequence are ours (a ping
socket would have the kernel pick them, and it is off by default in new namespaces);
16 random bytes in its data recognise it on a `via` interface even where NAT rewrote
the identifier.
"""

import secrets
from contextlib import ExitStack

from fabric.probe import packets, sockets
from fabric.probe.attempt import Attempt
from fabric.probe.model import Outcome, Probe
from fabric.probe.stream import Matcher

KEEP = (packets.ECHO_REPLY, packets.DEST_UNREACH, packets.TIME_EXCEEDED)


def probe(src_netns: str | None, p: Probe, stack: ExitStack) -> tuple[Outcome, Matcher]:
    (sock,) = sockets.in_ns(src_netns, stack, lambda: [sockets.raw_icmp(KEEP)])
    ident, seq = p.ident or secrets.randbits(16), secrets.randbits(16)
    token = secrets.token_bytes(16)
    payload = token + bytes(40)        # 56 bytes of data, as ping sends

    def mine(pkt: packets.IPv4) -> bool:
        return packets.echo_ids(pkt) is not None and token in pkt.payload

    at = Attempt(p)
    try:
        sock.sendto(packets.echo_request(ident, seq, payload), (p.dst, 0))
    except OSError as e:
        return at.local(e.errno or 0), mine
    while at.wait([sock]) is not None:
        for buf in sockets.drain(sock):
            outcome = _answer(at, buf, ident, seq, token)
            if outcome is not None:
                return outcome, mine
    return at.silence("no echo reply"), mine


def _answer(at: Attempt, buf: bytes, ident: int, seq: int, token: bytes) -> Outcome | None:
    pkt = packets.parse_ipv4(buf)
    if pkt is None:
        return None
    ids = packets.echo_ids(pkt)
    if ids == (packets.ECHO_REPLY, ident, seq) and token in pkt.payload:
        return at.ok(f"echo reply from {pkt.src} in {at.ms()}")
    err = packets.icmp_error(buf)
    if err is not None and packets.echo_ids(err.inner) == (packets.ECHO_REQUEST, ident, seq):
        return at.icmp(err)
    return None
