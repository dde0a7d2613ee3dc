"""The few packet formats the prober builds and reads: IPv4, ICMP, and the headers
of TCP and UDP as far as their ports (and the TCP flags).

Plain `struct` on bytes: scapy would parse them too, but importing it costs 0.6 s,
more than a whole lab test of a few dozen probes should take.
"""

import socket
import struct
from dataclasses import dataclass

ICMP, TCP, UDP = socket.IPPROTO_ICMP, socket.IPPROTO_TCP, socket.IPPROTO_UDP
ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED = 0, 3, 8, 11
VXLAN_PORTS = (4789, 8472)      # IANA's and the Linux kernel's historical default
GRE = 47
GRE_ETHERNET, GRE_IPV4 = 0x6558, 0x0800  # what a GRE packet carries: a frame (Open
#                                          vSwitch's GRE ports) or an IPv4 packet

UNREACH_CODES = {
    0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
    3: "port unreachable", 4: "fragmentation needed", 5: "source route failed",
    6: "net unknown", 7: "host unknown", 9: "net admin prohibited",
    10: "host admin prohibited", 13: "admin prohibited",
}
# The destination answered itself that nothing listens: the host was reached.
REFUSING_CODES = frozenset({2, 3})


@dataclass(frozen=True)
class IPv4:
    proto: int
    src: str
    dst: str
    payload: bytes


@dataclass(frozen=True)
class IcmpError:
    """An ICMP error and the start of the datagram it complains about."""
    type: int
    code: int
    sender: str
    inner: IPv4

    def refused(self) -> bool:
        return self.type == DEST_UNREACH and self.code in REFUSING_CODES

    def describe(self) -> str:
        if self.type == TIME_EXCEEDED:
            what = "time exceeded"
        elif self.type == DEST_UNREACH:
            what = UNREACH_CODES.get(self.code, f"unreachable (code {self.code})")
        else:
            what = f"type {self.type} code {self.code}"
        return f"ICMP {what} from {self.sender}"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    head = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    csum = checksum(head + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, csum, ident, seq) + payload


def parse_ipv4(buf: bytes) -> IPv4 | None:
    """An IPv4 packet (header first); None for anything else or a truncated one."""
    if len(buf) < 20 or buf[0] >> 4 != 4:
        return None
    ihl = (buf[0] & 0x0F) * 4
    if ihl < 20 or len(buf) < ihl:
        return None
    return IPv4(buf[9], socket.inet_ntoa(buf[12:16]), socket.inet_ntoa(buf[16:20]),
                buf[ihl:])


def ports(pkt: IPv4) -> tuple[int, int] | None:
    """(source port, destination port) of a TCP or UDP packet."""
    if pkt.proto not in (TCP, UDP) or len(pkt.payload) < 4:
        return None
    sport, dport = struct.unpack("!HH", pkt.payload[:4])
    return sport, dport


def echo_ids(pkt: IPv4) -> tuple[int, int, int] | None:
    """(type, identifier, sequence) of an ICMP echo request or reply."""
    if pkt.proto != ICMP or len(pkt.payload) < 8:
        return None
    kind, _code, _csum, ident, seq = struct.unpack("!BBHHH", pkt.payload[:8])
    if kind not in (ECHO_REQUEST, ECHO_REPLY):
        return None
    return kind, ident, seq


def icmp_error(buf: bytes) -> IcmpError | None:
    """The ICMP error in a packet read from a raw ICMP socket (IP header included)."""
    pkt = parse_ipv4(buf)
    if pkt is None or pkt.proto != ICMP or len(pkt.payload) < 8:
        return None
    kind, code = pkt.payload[0], pkt.payload[1]
    if kind not in (DEST_UNREACH, TIME_EXCEEDED):
        return None
    inner = parse_ipv4(pkt.payload[8:])
    if inner is None:
        return None
    return IcmpError(kind, code, pkt.src, inner)


def decapsulate(pkt: IPv4) -> IPv4 | None:
    """The inner IPv4 packet of a VXLAN datagram or a GRE packet, so `via` on an
    underlay interface recognises a probe crossing an overlay."""
    if pkt.proto == GRE:
        return _gre_inner(pkt.payload)
    p = ports(pkt)
    if p is None or pkt.proto != UDP or p[1] not in VXLAN_PORTS:
        return None
    return _frame_ipv4(pkt.payload[8 + 8:])     # after the UDP and VXLAN headers


def _frame_ipv4(frame: bytes) -> IPv4 | None:
    """The IPv4 packet an Ethernet frame carries."""
    if len(frame) < 14 or frame[12:14] != b"\x08\x00":
        return None
    return parse_ipv4(frame[14:])


def _gre_inner(gre: bytes) -> IPv4 | None:
    if len(gre) < 4:
        return None
    flags, kind = struct.unpack("!HH", gre[:4])
    # the checksum, key and sequence number fields follow when their bits are set
    start = 4 + 4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000))
    if kind == GRE_IPV4:
        return parse_ipv4(gre[start:])
    return _frame_ipv4(gre[start:]) if kind == GRE_ETHERNET else None
