"""The trace's parts as data: the kernel's trace messages and headers read back, nft's
listing read into rules, the passes of several hosts put in the packet's order, the
trace tables accepted by nft, and the verdict line."""

import socket
import struct
import subprocess
import uuid

from fabric.host import bare
from fabric.trace import arming, events, packet, ruleset, story
from fabric.trace.match import Match
from fabric.trace.model import DELIVERED, DROPPED, LEFT, NO_ROUTE, Hop, Pass


def attr(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def test_a_trace_message_is_read_back_with_its_headers():
    ip = bytes.fromhex("45000054abcd40003f01") + b"\0\0" + socket.inet_aton("10.0.0.2") + \
        socket.inet_aton("10.0.9.9")
    icmp = bytes([8, 0, 0, 0]) + struct.pack("!HH", 4242, 1) + bytes(8)
    verdict = attr(1, struct.pack("!I", 0))
    body = b"".join([attr(events.TABLE, b"fabric\0"), attr(events.CHAIN, b"icc\0"),
                     attr(events.RULE_HANDLE, struct.pack("!Q", 26)),
                     attr(events.TYPE, struct.pack("!I", events.RULE_EVENT)),
                     attr(events.VERDICT | 0x8000, verdict),
                     attr(events.IIF, struct.pack("!I", 4)),
                     attr(events.NETWORK_HEADER, ip), attr(events.TRANSPORT_HEADER, icmp)])
    nfgen = bytes([7, 0, 0, 0])
    msg = struct.pack("=IHHII", 20 + len(body), events.NFNL_SUBSYS_NFTABLES << 8 |
                      events.NFT_MSG_TRACE, 0, 0, 0) + nfgen + body
    (e,) = events.split(msg + msg[:10])         # a truncated tail is ignored
    assert (e.family, e.table, e.chain, e.handle, e.verdict, e.iif) == \
        ("bridge", "fabric", "icc", 26, "drop", 4)
    p = packet.parse(e.ll, e.network, e.transport)
    assert p is not None
    assert (p.src, p.dst, p.ttl, p.ipid, p.icmp_type, p.icmp_id) == \
        ("10.0.0.2", "10.0.9.9", 63, 0xABCD, 8, 4242)
    assert Match("icmp", 4242).direction(p) == "request"
    assert Match("icmp", 4243).direction(p) is None
    assert p.describe() == "10.0.0.2 > 10.0.9.9 icmp echo-request id 4242 ttl 63"


LISTING = """table bridge fabric { # handle 7
\tset ports { # handle 1
\t\ttype ifname
\t}
\tchain forward { # handle 9
\t\ttype filter hook forward priority filter; policy accept;
\t\tjump user # handle 19
\t\tiifname @icc_deny oifname @icc_deny jump icc # handle 20
\t}
\tchain icc { # handle 11
\t\tip saddr . ip daddr . meta l4proto . th dport @links accept # handle 22
\t\tdrop comment "icc=false" # handle 26
\t}
}
"""


def test_nft_s_listing_names_each_rule_by_table_and_handle():
    rs = ruleset.parse(LISTING)
    fwd = rs.chain("bridge", "fabric", "forward")
    assert (fwd.hook, fwd.type, fwd.policy) == ("forward", "filter", "accept")
    r = rs.rule("bridge", "fabric", 22)
    assert r is not None and (r.chain, r.index, r.sets) == ("icc", 1, ("links",))
    r = rs.rule("bridge", "fabric", 26)
    assert r is not None and (r.index, r.comment, r.text) == (2, "icc=false",
                                                              'drop comment "icc=false"')
    assert rs.rule("bridge", "fabric", 1) is None        # a set, not a rule


def test_the_trace_tables_are_valid_nft_for_every_protocol(tmp_path):
    ns = bare.make("fabtr" + uuid.uuid4().hex[:6])
    try:
        for m in (Match("icmp", 7), Match("tcp", 61234), Match("udp", 65000)):
            f = tmp_path / f"{m.proto}.nft"
            # without the owner flag: `nft -c` would check it, then lose it with its socket
            f.write_text(arming.script("t1", m).replace("  flags owner\n", ""))
            p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", str(f)],
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
    finally:
        bare.remove(ns)


def hop(host: str, ns: str, stage: str = "route") -> Hop:
    return Hop(host, ns, "eth0", stage, "x")


def test_passes_are_told_in_the_packet_s_order_by_its_ttl_and_where_it_was_made():
    ps = [Pass("h3", "c", "request", 61, delivered=True, hops=[hop("h3", "c")]),
          Pass("h2", "host", "request", 63, hops=[hop("h2", "host")]),
          Pass("h1", "a", "request", 64, origin=True, hops=[hop("h1", "a")]),
          Pass("h3", "host", "request", 62, hops=[hop("h3", "host")]),
          Pass("h1", "host", "request", 64, hops=[hop("h1", "host")]),
          # a bridged overlay: no router in between, the tunnel's receiver after
          Pass("h2", "c", "reply", 64, origin=True, hops=[hop("h2", "c")]),
          Pass("h1", "host", "reply", 64, decap=True, hops=[hop("h1", "host")]),
          Pass("h2", "host", "reply", 64, hops=[hop("h2", "host")])]
    s = story.tell(ps, story.Ends("a", "c", "h1", "h3"), "ok", "echo reply")
    assert [(p.host, p.namespace) for p in s.request] == [
        ("h1", "a"), ("h1", "host"), ("h2", "host"), ("h3", "host"), ("h3", "c")]
    assert [(p.host, p.namespace) for p in s.answer] == [
        ("h2", "c"), ("h2", "host"), ("h1", "host")]
    assert s.verdict == "ok: echo reply"


def test_the_verdict_says_where_it_died_or_was_lost():
    ends = story.Ends("a", "b", "h1", "h2")
    dropped = Pass("h1", "host", "request", 64, fate=DROPPED, reason="dropped: icc=false")
    assert story.tell([dropped], ends, "blocked", "").verdict == "dropped: icc=false"
    left = Pass("h1", "host", "request", 64, fate=LEFT,
                hops=[Hop("h1", "host", "fab-1 -> eth0", "route", "forward")])
    assert story.tell([left], ends, "blocked", "").verdict == (
        "lost: it left host h1 (host) through eth0 and no traced host saw it again")
    there = Pass("h2", "b", "request", 63, delivered=True, fate=DELIVERED)
    assert story.tell([there], ends, "blocked", "no echo reply within 0.3 s").verdict == (
        "blocked: delivered to b on host h2, no answer came back (no echo reply within "
        "0.3 s)")


def test_a_reply_with_no_route_back_is_the_verdict_and_its_error_comes_after_it():
    # b's host has no route back to a: the reply dies there, and that host's ICMP
    # error (made there, TTL 64 like the reply) goes back to b after it
    ends = story.Ends("a", "b", "h1", "h2")
    ps = [Pass("h2", "b", "request", 62, delivered=True, fate=DELIVERED),
          Pass("h2", "b", "reply", 64, origin=True, hops=[hop("h2", "b")]),
          Pass("h2", "host", "reply", 64, fate=NO_ROUTE, hops=[hop("h2", "host")],
               reason="no route to 10.1.0.0/16 on host h2"),
          Pass("h2", "host", "error", 64, origin=True, hops=[hop("h2", "host")]),
          Pass("h2", "b", "error", 64, delivered=True, fate=DELIVERED,
               hops=[hop("h2", "b")])]
    s = story.tell(ps, ends, "blocked", "no echo reply within 0.3 s")
    assert [(p.namespace, p.direction) for p in s.answer] == [
        ("b", "reply"), ("host", "reply"), ("host", "error"), ("b", "error")]
    assert s.verdict == "no route to 10.1.0.0/16 on host h2"
