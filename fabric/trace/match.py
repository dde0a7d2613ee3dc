"""Which packets are the probe's, in every namespace, whatever NAT did to them.

The probe's own identifier is chosen before it is sent: the ICMP echo identifier, or
the TCP or UDP source port. NAT keeps both (DNAT rewrites the destination, masquerade
the source address and only rarely the port), so they find the probe's packets, its
reply and an ICMP error quoting it in each namespace, where the kernel has forgotten
the nftrace bit and the mark the packet carried in the last one (veth_xmit scrubs both
when a packet changes namespace, and a tunnel's encapsulation and decapsulation scrub
them again).

A TCP probe is traced by its handshake alone (the SYN, and the SYN-ACK or the reset
answering it): the prober's closing reset is not the probe.
"""

from dataclasses import dataclass

from fabric.errors import InvalidArgument
from fabric.trace import packet as pk

PROTOS = ("icmp", "tcp", "udp")
NUMBERS = {"icmp": pk.ICMP, "tcp": pk.TCP, "udp": pk.UDP}
REQUEST, REPLY, ERROR = "request", "reply", "error"

# Raw payload offsets in bits, from the transport header (nft's @th): the datagram an
# ICMP error quotes starts after the ICMP header's 8 bytes (an inner header of 20
# bytes assumed, as every probe's is); a VXLAN packet's inner IPv4 header starts after
# UDP (8), VXLAN (8) and the inner Ethernet header (14).
QUOTED_PROTO, QUOTED_SPORT, QUOTED_ECHO_ID = (8 + 9) * 8, (8 + 20) * 8, (8 + 20 + 4) * 8
INNER = 8 + 8 + 14
INNER_ETHERTYPE, INNER_PROTO = (INNER - 2) * 8, (INNER + 9) * 8
INNER_SPORT, INNER_DPORT, INNER_ECHO_ID = (INNER + 20) * 8, (INNER + 22) * 8, (INNER + 24) * 8


@dataclass(frozen=True)
class Match:
    proto: str      # "icmp" | "tcp" | "udp"
    ident: int      # the echo identifier, or the source port

    def __post_init__(self) -> None:
        if self.proto not in PROTOS:
            raise InvalidArgument(f"trace: unknown protocol {self.proto!r} "
                                  f"({', '.join(PROTOS)})")
        if not 0 < self.ident < 65536:
            raise InvalidArgument(f"trace: identifier {self.ident} is outside 1..65535")

    @property
    def number(self) -> int:
        return NUMBERS[self.proto]

    def direction(self, p: pk.Packet) -> str | None:
        """request, reply or error (an ICMP error about the probe, travelling back);
        None for a packet that is not the probe's (or is its outer tunnel packet)."""
        if p.proto == pk.ICMP and p.icmp_type in pk.ICMP_ERRORS:
            return ERROR
        if p.proto != self.number:
            return None
        if p.proto == pk.ICMP:
            if p.icmp_id != self.ident:
                return None
            return REQUEST if p.icmp_type == pk.ECHO_REQUEST else REPLY
        if p.sport == self.ident:
            return REQUEST
        if p.dport == self.ident:
            return REPLY
        return None

    # --- the rules that set nftrace ----------------------------------------------------

    def plain(self) -> list[tuple[str, str]]:
        """(nft rule, comment) matching the probe, its answer and an error quoting it."""
        n = self.ident
        if self.proto == "icmp":
            return [(f"icmp id {n}", "probe"),
                    (f"icmp type {{ destination-unreachable, time-exceeded }} "
                     f"@th,{QUOTED_PROTO},8 1 @th,{QUOTED_ECHO_ID},16 {n}", "error")]
        p = self.proto
        if p == "tcp":
            out = [(f"tcp sport {n} tcp flags & (syn | ack) == syn", "probe"),
                   (f"tcp dport {n} tcp flags & (syn | rst) != 0", "answer")]
        else:
            out = [(f"udp sport {n}", "probe"), (f"udp dport {n}", "answer")]
        return out + [(f"icmp type {{ destination-unreachable, time-exceeded }} "
                       f"@th,{QUOTED_PROTO},8 {self.number} @th,{QUOTED_SPORT},16 {n}",
                       "error")]

    def tunnelled(self) -> list[tuple[str, str]]:
        """(nft rule, comment) matching the probe or its answer inside VXLAN: the outer
        packet's headers say nothing of it, so the inner ones are read by offset."""
        ports = ", ".join(str(p) for p in pk.VXLAN_PORTS)
        head = (f"udp dport {{ {ports} }} @th,{INNER_ETHERTYPE},16 0x0800 "
                f"@th,{INNER_PROTO},8 {self.number}")
        if self.proto == "icmp":
            return [(f"{head} @th,{INNER_ECHO_ID},16 {self.ident}", "vxlan")]
        return [(f"{head} @th,{INNER_SPORT},16 {self.ident}", "vxlan"),
                (f"{head} @th,{INNER_DPORT},16 {self.ident}", "vxlan")]
