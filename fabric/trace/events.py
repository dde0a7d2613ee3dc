"""The kernel's nftables trace events, read from netlink as `nft monitor trace` reads
them: a NETLINK_NETFILTER socket subscribed to the NFNLGRP_NFTRACE group.

Reading them here rather than running `nft monitor trace` leaves no process to find
and kill afterwards, costs no program start per namespace, and hands over the packet
headers as bytes (nft prints them as text that would have to be parsed back). A
netlink socket belongs to the namespace it was made in, whichever thread reads it,
so each namespace gets one, made on a thread that entered it (fabric.net.nsexec).

The kernel emits an event for every rule a traced packet matches (with the rule's
handle and verdict), for every chain's policy and return, and with the first event
of each base chain it walks, the packet's link, network and transport headers (the
first 16 bytes of each: enough for addresses, TTL, IP id, ports, ICMP id and a VXLAN
header, never the frame inside a tunnel). Events carry no time stamp, and netlink
gives none: their order in one namespace is the socket's order.
"""

import socket
import struct
from dataclasses import dataclass

from fabric.net import nsexec

NETLINK_NETFILTER = 12
NFNLGRP_NFTRACE = 9
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
SO_RCVBUFFORCE = 33
RCVBUF = 4 << 20          # a trace of a few packets is a few hundred events at most
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_TRACE = 17
NLMSG_ERROR, NLMSG_DONE = 2, 3

# enum nft_trace_attributes (linux/netfilter/nf_tables.h)
TABLE, CHAIN, RULE_HANDLE, TYPE, VERDICT, ID = 1, 2, 3, 4, 5, 6
LL_HEADER, NETWORK_HEADER, TRANSPORT_HEADER = 7, 8, 9
IIF, IIFTYPE, OIF, OIFTYPE, MARK, NFPROTO, POLICY = 10, 11, 12, 13, 14, 15, 16
CT_ID, CT_DIRECTION, CT_STATUS, CT_STATE = 18, 19, 20, 21

# enum nft_trace_types
POLICY_EVENT, RETURN_EVENT, RULE_EVENT = 1, 2, 3
TYPES = {1: "policy", 2: "return", 3: "rule"}

FAMILIES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

# verdict codes: NF_DROP 0, NF_ACCEPT 1, NF_STOLEN 2, NF_QUEUE 3, NF_REPEAT 4, and
# nftables' own negative ones (as unsigned 32-bit numbers on the wire)
VERDICTS = {0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat",
            0xFFFFFFFF: "continue", 0xFFFFFFFE: "break", 0xFFFFFFFD: "jump",
            0xFFFFFFFC: "goto", 0xFFFFFFFB: "return"}

# conntrack status bits (linux/netfilter/nf_conntrack_common.h) that say NAT was done
IPS_SRC_NAT, IPS_DST_NAT = 1 << 4, 1 << 5


@dataclass(frozen=True)
class Event:
    family: str             # the table's family: "bridge", "inet", "ip"...
    table: str
    chain: str
    type: str               # "rule" | "policy" | "return"
    handle: int | None      # the rule's handle (type "rule")
    verdict: str | None     # "accept", "drop", "continue", "jump", "goto", "return"...
    target: str | None      # the chain a jump or goto went to
    trace_id: int
    iif: int | None
    oif: int | None
    mark: int
    nfproto: int | None     # the packet's protocol family at this hook
    ll: bytes               # link header (Ethernet), when the hook has one
    network: bytes          # the first bytes of the IP header
    transport: bytes        # the first 16 bytes after the IP header
    ct_status: int | None   # conntrack status bits, once conntrack has seen it

    @property
    def has_packet(self) -> bool:
        """The kernel dumps the headers with the first event of each base chain a
        packet walks: such an event starts a new hook's walk."""
        return bool(self.network)


def _attrs(buf: bytes, start: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, start)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[start + 4:start + length]
        start += (length + 3) & ~3
    return out


def _u32(a: dict[int, bytes], key: int) -> int | None:
    v = a.get(key)
    return struct.unpack("!I", v[:4])[0] if v and len(v) >= 4 else None


def _text(a: dict[int, bytes], key: int) -> str:
    return a.get(key, b"").split(b"\0", 1)[0].decode(errors="replace")


def parse(message: bytes, family: int) -> Event:
    """One NFT_MSG_TRACE message's attributes (after the nfgenmsg header)."""
    a = _attrs(message, 0, len(message))
    verdict = target = None
    if VERDICT in a:
        v = _attrs(a[VERDICT], 0, len(a[VERDICT]))
        code = _u32(v, 1)
        verdict = VERDICTS.get(code, str(code)) if code is not None else None
        target = _text(v, 2) or None
    if POLICY in a and verdict is None:
        code = _u32(a, POLICY)
        verdict = VERDICTS.get(code, str(code)) if code is not None else None
    handle = a.get(RULE_HANDLE)
    return Event(
        family=FAMILIES.get(family, str(family)), table=_text(a, TABLE), chain=_text(a, CHAIN),
        type=TYPES.get(_u32(a, TYPE) or 0, "?"),
        handle=struct.unpack("!Q", handle)[0] if handle and len(handle) == 8 else None,
        verdict=verdict, target=target, trace_id=_u32(a, ID) or 0,
        iif=_u32(a, IIF), oif=_u32(a, OIF), mark=_u32(a, MARK) or 0,
        nfproto=_u32(a, NFPROTO), ll=a.get(LL_HEADER, b""),
        network=a.get(NETWORK_HEADER, b""), transport=a.get(TRANSPORT_HEADER, b""),
        ct_status=_u32(a, CT_STATUS))


def split(buf: bytes) -> list[Event]:
    """Every trace event in one datagram read from the socket."""
    out = []
    off = 0
    while off + 20 <= len(buf):
        length, kind = struct.unpack_from("=IH", buf, off)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE):
            family = buf[off + 16]
            out.append(parse(buf[off + 20:off + length], family))
        off += (length + 3) & ~3
    return out


class Listener:
    """The trace events of one namespace, queued in the kernel until `drain`."""

    def __init__(self, netns: str | None):
        self.netns = netns
        self.sock = nsexec.run(netns, _subscribe)

    def drain(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                buf = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return out
            out += split(buf)

    def close(self) -> None:
        self.sock.close()


def _subscribe() -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        s.bind((0, 0))
        s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTRACE)
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s
