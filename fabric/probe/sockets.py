"""Sockets made inside a namespace, and the two listeners a probe opens beside its
own socket: a raw ICMP socket for the errors that answer it, and packet taps for `via`.

A socket belongs to the namespace it was created in, whichever thread uses it later,
so each is created on a short-lived thread that entered the namespace (fabric.net.nsexec,
about 0.1 ms) and then used from the probing thread.

Why a raw ICMP socket rather than IP_RECVERR: TCP reports an ICMP host or net
unreachable during the handshake only as a soft error, after its own timeout, and UDP
reports nothing but port unreachable unless asked; a raw socket sees every ICMP error
that reaches the namespace, and the probe picks its own by the datagram quoted in it.
"""

import socket
import struct
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from functools import partial

from fabric.errors import NotFound
from fabric.net import nsexec
from fabric.probe import packets

SOL_RAW, ICMP_FILTER = 255, 1     # linux/icmp.h: a bitmask of ICMP types to drop
ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1
TAP_BUFFER = 1 << 20


def _icmp_filter(sock: socket.socket, keep: Iterable[int]) -> None:
    mask = 0xFFFFFFFF
    for kind in keep:
        mask &= ~(1 << kind)
    sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", mask))


def raw_icmp(keep: Iterable[int]) -> socket.socket:
    """A raw ICMP socket of the calling thread's namespace, seeing only `keep` types
    (the kernel hands every raw ICMP socket a copy of every ICMP packet)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        _icmp_filter(s, keep)
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


def error_watch() -> socket.socket:
    return raw_icmp((packets.DEST_UNREACH, packets.TIME_EXCEEDED))


def in_ns(netns: str | None, stack: ExitStack, make: Callable[[], list[socket.socket]]
          ) -> list[socket.socket]:
    """Sockets made by `make` inside `netns`, closed when `stack` closes."""
    socks = nsexec.run(netns, make)
    for s in socks:
        stack.callback(s.close)
    return socks


def drain(sock: socket.socket) -> Iterable[bytes]:
    """Every datagram queued on a non-blocking socket."""
    while True:
        try:
            yield sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return


def icmp_errors(watch: socket.socket) -> Iterable[packets.IcmpError]:
    for buf in drain(watch):
        err = packets.icmp_error(buf)
        if err is not None:
            yield err


# --- taps for `via` ------------------------------------------------------------------

def _tap(ifname: str) -> socket.socket:
    # SOCK_DGRAM packet sockets hand over the frame without its link header (the
    # address says the ethertype), so any link type (ethernet, veth, tun) reads alike.
    # Protocol 0 at creation, ETH_P_ALL only at bind: a socket made with ETH_P_ALL
    # hooks into every interface at once, and moving that hook at bind waits for an
    # RCU grace period (16 ms here).
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, TAP_BUFFER)
        s.bind((ifname, ETH_P_ALL))   # resolved in this thread's namespace
        # Promiscuous while the tap is open (the kernel counts, and drops it with the
        # socket): a bridge hands its own device only the frames addressed to the host,
        # unless promiscuous, so `via` a bridge (a segment, br0) would never see the
        # frames it forwards between its ports, as tcpdump -i br0 does by the same means.
        mreq = struct.pack("iHH8s", socket.if_nametoindex(ifname), PACKET_MR_PROMISC, 0, b"")
        s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


def taps(via: tuple[tuple[str, str], ...], stack: ExitStack) -> list[socket.socket]:
    """One packet socket per `via` entry, opened before the probe is sent; the frames
    queue there until `seen` reads them."""
    out: list[socket.socket] = []
    for ns, ifname in via:
        try:
            out += in_ns(ns, stack, partial(_one_tap, ifname))
        except OSError as e:
            raise NotFound(f"via {ifname} in {ns}: {e.strerror or e}") from e
    return out


def _one_tap(ifname: str) -> list[socket.socket]:
    return [_tap(ifname)]


def seen(tap: socket.socket, match: Callable[[packets.IPv4], bool]) -> bool:
    """Whether one of the IPv4 packets queued on a tap is the probe's own."""
    while True:
        try:
            buf, addr = tap.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return False
        if addr[1] != ETH_P_IP:
            continue
        pkt = packets.parse_ipv4(buf)
        while pkt is not None:
            if match(pkt):
                return True
            pkt = packets.decapsulate(pkt)
