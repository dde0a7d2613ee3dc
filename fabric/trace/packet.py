"""What a trace event says of the packet: its headers as the kernel dumped them, read
into plain values (standard library only: the CLI renders these too)."""

import ipaddress
import socket
import struct
from dataclasses import asdict, dataclass

ICMP, TCP, UDP = socket.IPPROTO_ICMP, socket.IPPROTO_TCP, socket.IPPROTO_UDP
PROTO_NAMES = {ICMP: "icmp", TCP: "tcp", UDP: "udp", 47: "gre"}
ICMP_NAMES = {0: "echo-reply", 3: "unreachable", 8: "echo-request", 11: "time-exceeded"}
ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED = 0, 3, 8, 11
ICMP_ERRORS = (DEST_UNREACH, TIME_EXCEEDED)
TCP_FLAGS = "FSRPAUEC"     # fin syn rst psh ack urg ece cwr, bit 0 first
SYN, RST, ACK = 0x02, 0x04, 0x10
VXLAN_PORTS = (4789, 8472)  # IANA's, and the kernel's historical default


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    proto: int
    ttl: int
    ipid: int
    sport: int | None = None       # tcp, udp
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_id: int | None = None     # echo request and reply
    tcp_flags: int | None = None
    src_mac: str | None = None
    dst_mac: str | None = None
    vni: int | None = None         # an outer VXLAN packet's network identifier

    @property
    def vxlan(self) -> bool:
        return self.proto == UDP and self.dport in VXLAN_PORTS

    def flags(self) -> str:
        f = self.tcp_flags or 0
        names = {0: "fin", 1: "syn", 2: "rst", 3: "psh", 4: "ack"}
        return ",".join(n for bit, n in names.items() if f & (1 << bit))

    def describe(self) -> str:
        """One line, tcpdump-like: "10.88.0.2 > 10.88.0.3 icmp echo-request id 7 ttl 64"."""
        what = PROTO_NAMES.get(self.proto, f"proto {self.proto}")
        if self.vxlan:
            return f"{self.src} > {self.dst} vxlan vni {self.vni} ttl {self.ttl}"
        if self.proto == ICMP:
            kind = ICMP_NAMES.get(self.icmp_type or 0, f"type {self.icmp_type}")
            extra = f" id {self.icmp_id}" if self.icmp_id is not None else \
                f" code {self.icmp_code}"
            return f"{self.src} > {self.dst} icmp {kind}{extra} ttl {self.ttl}"
        if self.sport is not None:
            flags = f" [{self.flags()}]" if self.proto == TCP else ""
            return (f"{self.src}:{self.sport} > {self.dst}:{self.dport} {what}{flags} "
                    f"ttl {self.ttl}")
        return f"{self.src} > {self.dst} {what} ttl {self.ttl}"

    def doc(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def of(cls, doc: dict) -> "Packet":
        return cls(**doc)


def parse(ll: bytes, network: bytes, transport: bytes) -> Packet | None:
    """The packet of a trace event's headers; None for anything but IPv4."""
    if len(network) < 20 or network[0] >> 4 != 4:
        return None
    ttl, proto = network[8], network[9]
    ipid = struct.unpack_from("!H", network, 4)[0]
    src, dst = socket.inet_ntoa(network[12:16]), socket.inet_ntoa(network[16:20])
    fields: dict = {}
    if len(ll) >= 14:
        fields.update(dst_mac=mac(ll[0:6]), src_mac=mac(ll[6:12]))
    t = transport
    if proto in (TCP, UDP) and len(t) >= 4:
        fields.update(sport=struct.unpack_from("!H", t, 0)[0],
                      dport=struct.unpack_from("!H", t, 2)[0])
        if proto == TCP and len(t) >= 14:
            fields["tcp_flags"] = t[13]
        if proto == UDP and fields["dport"] in VXLAN_PORTS and len(t) >= 16:
            fields["vni"] = int.from_bytes(t[12:15], "big")
    elif proto == ICMP and len(t) >= 2:
        fields.update(icmp_type=t[0], icmp_code=t[1])
        if t[0] in (ECHO_REQUEST, ECHO_REPLY) and len(t) >= 6:
            fields["icmp_id"] = struct.unpack_from("!H", t, 4)[0]
    return Packet(src, dst, proto, ttl, ipid, **fields)
