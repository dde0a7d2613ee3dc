"""The probe's conntrack entries, deleted when the trace ends, so the probe leaves no
connection behind that a second trace would see as established (a second probe with
the same identifier would then skip the rules a new connection meets)."""

import socket

from fabric.net import nsexec
from fabric.trace.match import Match


def forget(netns: str | None, match: Match) -> int:
    """Delete the entries whose original direction is the probe's; how many went."""
    return nsexec.run(netns, _forget_here, match)


def _forget_here(match: Match) -> int:
    from pyroute2 import Conntrack
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    ct = Conntrack()     # made on this thread: a socket of this namespace
    gone = 0
    try:
        if match.proto == "icmp":
            want = NFCTAttrTuple(family=socket.AF_INET, proto=match.number)
        else:
            want = NFCTAttrTuple(family=socket.AF_INET, proto=match.number,
                                 sport=match.ident)
        found = [e for e in ct.dump_entries(tuple_orig=want) if _ours(e.tuple_orig, match)]
        for e in found:
            try:
                ct.delete(e)
                gone += 1
            except NetlinkError:
                pass        # gone meanwhile (timed out, or a reply closed it)
    finally:
        ct.close()
    return gone


def _ours(t, match: Match) -> bool:
    if match.proto == "icmp":
        return t.icmp_id == match.ident
    return t.sport == match.ident
