"""The nftables ruleset generation of the calling thread's namespace.

The kernel counts committed nftables transactions per namespace (NFT_MSG_GETGEN), by
anyone: nft, iptables-nft, Docker, us. If the count is where fabric's own last commit
left it, nothing changed since, so fabric may send only element changes; any other
value means someone else committed, and fabric rebuilds its tables whole. Asking
costs one netlink round trip, where listing the ruleset to check it would cost time in
proportion to the number of elements (libnftables fetches them all, even for
`list tables`). libnftables does not expose the generation, hence this raw request.
"""

import socket
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETGEN = 16
NFT_MSG_NEWGEN = 15
NFTA_GEN_ID = 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2


def genid() -> int:
    """The current generation id (a 32-bit counter) of this thread's namespace."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as s:
        s.bind((0, 0))
        msg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
        body = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)
        s.send(struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST, 1, 0) + body)
        data = s.recv(4096)
    length, typ = struct.unpack_from("=IH", data)
    if typ == NLMSG_ERROR:
        err = -struct.unpack_from("=i", data, 16)[0]
        raise OSError(err, "NFT_MSG_GETGEN refused")
    if typ & 0xFF != NFT_MSG_NEWGEN:
        raise OSError(0, f"unexpected netlink reply type {typ:#x}")
    off = 16 + 4  # nlmsghdr + nfgenmsg
    while off + 4 <= length:
        alen, atype = struct.unpack_from("=HH", data, off)
        if atype & 0x7FFF == NFTA_GEN_ID:
            return struct.unpack_from("!I", data, off + 4)[0]
        off += (alen + 3) & ~3
    raise OSError(0, "no generation id in the reply")
