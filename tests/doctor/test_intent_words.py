"""The intent in words, as data: no kernel involved."""

from dataclasses import replace

from fabric.firewall import iptables, nftrender
from fabric.firewall import reasons as why
from fabric.firewall.intent import (
    EndpointIntent,
    FirewallFacts,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)
from fabric.firewall.intent_words import IntentWords, Names, Packet, SeenRule

LAB = NetworkIntent("n1" * 32, "labnet", FirewallFacts(("fab-lab",), icc=False),
                    ("10.9.1.0/24",), ("10.9.1.1",))
OTHER = NetworkIntent("n2" * 32, "other", FirewallFacts(("fab-other",)), ("10.9.2.0/24",),
                      ("10.9.2.1",))
INTENT = FirewallIntent(
    networks=(LAB, OTHER),
    endpoints=(EndpointIntent(LAB.id, "ca", "fva", "10.9.1.11", "02:00:00:00:01:11"),
               EndpointIntent(LAB.id, "cb", "fvb", "10.9.1.12", "02:00:00:00:01:12"),
               EndpointIntent(LAB.id, "cw", "fvw", "10.9.1.13", "02:00:00:00:01:13"),
               EndpointIntent(OTHER.id, "cx", "fvx", "10.9.2.14", "02:00:00:00:02:14")),
    links=(LinkIntent(LAB.id, "10.9.1.11", "10.9.1.13", (("tcp", 80, 80),)),),
    ports=(PortIntent("cw", LAB.id, "tcp", "0.0.0.0", 8080, 8080, "10.9.1.13", 80, 80),),
    user_rules=(UserRule("r1", "drop", src="10.9.1.11/32", proto="tcp", dport=22,
                         comment="no ssh"),))
WORDS = IntentWords(INTENT, Names({"ca": "a", "cb": "b", "cw": "web", "cx": "x"},
                                  {("ca", "cw"): "db"}))


def test_statements_name_containers_links_and_ports():
    assert WORDS.icc(LAB).startswith("network labnet: icc=false")
    assert WORDS.link(INTENT.links[0]) == "a -> web tcp/80 allowed by link web:db"
    assert WORDS.port(INTENT.ports[0]) == "0.0.0.0:8080 -> web:80/tcp (DNAT)"
    assert WORDS.user_rule(INTENT.user_rules[0]) == (
        "user rule 1 (r1): drop tcp/22 from a (10.9.1.11) to anywhere (no ssh), before "
        "fabric's own rules")
    facts = [f.words for f in WORDS.facts(LAB)]
    assert facts[:3] == [WORDS.icc(LAB), WORDS.link(INTENT.links[0]),
                         WORDS.port(INTENT.ports[0])]


def test_drops_say_which_intent_dropped_them():
    assert WORDS.describe_drop(Packet("10.9.1.11", "10.9.1.12"), why.ICC_FALSE) == (
        "dropped: icc=false on network labnet; containers a and b are not linked")
    assert WORDS.describe_drop(Packet("10.9.1.11", "10.9.1.13", "tcp", 81), why.ICC_FALSE) == (
        "dropped: icc=false on network labnet; tcp/81 is not what their link lets through "
        "(a -> web tcp/80 allowed by link web:db)")
    # a new connection (a bare SYN) over a link: the wrong port one way, none the other
    assert WORDS.describe_drop(Packet("10.9.1.11", "10.9.1.13", "tcp", 81),
                               why.ICC_FALSE_NEW).endswith("tcp/81 is not what their link "
                                                           "lets through (a -> web tcp/80 "
                                                           "allowed by link web:db)")
    assert WORDS.describe_drop(Packet("10.9.1.13", "10.9.1.11", "tcp", 22),
                               why.ICC_FALSE_NEW).endswith(
        "web may answer a over their link, not open a connection to it")
    assert "a (network labnet) and x (network other) are on different networks" in \
        WORDS.describe_drop(Packet("10.9.1.11", "10.9.2.14"), why.BETWEEN)
    assert WORDS.describe_drop(Packet("10.9.1.11", "1.1.1.1", "tcp", 22),
                               "fabric-rule:r1 no ssh").startswith("dropped by user rule 1 (r1)")
    assert "its own are 02:00:00:00:01:11 and 10.9.1.11" in WORDS.describe_drop(
        Packet("10.9.1.99", "10.9.1.12", iif="fva"), why.SPOOF_IP)
    assert WORDS.describe_drop(Packet("10.9.1.11", "8.8.8.8"), None,
                               "ip filter FORWARD policy drop") == (
        "dropped by ip filter FORWARD policy drop, not a rule of fabric's")


def test_passes_say_which_intent_let_them_through():
    assert WORDS.describe_pass(Packet("10.9.1.11", "10.9.1.13", "tcp", 80), why.LINK) == (
        "allowed: a -> web tcp/80 allowed by link web:db")
    assert WORDS.describe_pass(Packet("192.0.2.9", "10.9.1.13", "tcp", 80), why.DNAT) == (
        "DNAT: published port 0.0.0.0:8080 -> web:80/tcp (DNAT)")
    # before DNAT: the host's address and the host port
    assert WORDS.describe_pass(Packet("10.9.1.11", "10.9.1.1", "tcp", 8080), why.DNAT) == (
        "DNAT: published port 0.0.0.0:8080 -> web:80/tcp (DNAT)")
    assert WORDS.describe_pass(Packet("10.9.1.11", "10.9.1.13", "tcp", 80),
                               why.HAIRPIN).startswith("hairpin: a reaching published port")
    assert WORDS.describe_pass(Packet("10.9.2.14", "10.9.2.15"), why.ICC_TRUE) == (
        "allowed: icc=true on network other")


def test_kernel_objects_back_to_their_owner():
    assert WORDS.describe_interface("fab-lab") == "fab-lab: the interface of network labnet"
    assert WORDS.describe_interface("fvb") == "fvb: container b's veth on network labnet"
    assert "which the store does not hold" in WORDS.describe_interface(
        "fvzz", "fabric:" + LAB.id[:12] + ":0123456789ab")
    assert WORDS.describe_interface("eth0") == "eth0: not fabric's"
    assert WORDS.describe_route("10.9.1.0/24", dev="fab-lab").endswith("labnet's own")
    assert WORDS.describe_route("10.40.0.0/16", "192.0.2.1", "eth0", "boot") == (
        "route to 10.40.0.0/16 via 192.0.2.1 dev eth0: the host's own (proto boot)")
    assert "of no network it knows" in WORDS.describe_route("10.50.0.0/24", "192.0.2.1",
                                                            proto=251)
    assert WORDS.describe_element("links", ("10.9.1.11", "10.9.1.13", "tcp", 80)) == \
        WORDS.link(INTENT.links[0])
    assert WORDS.describe_element("dnat_any_addr", (("tcp", 8080), "10.9.1.13")) == \
        WORDS.port(INTENT.ports[0])


def test_every_comment_of_the_nft_ruleset_is_a_reason_in_words():
    rs = nftrender.render(INTENT)
    commented = [r for r in rs.rules if r.comment]
    assert len(commented) > 25
    for r in commented:
        reason, _ = why.of_comment(r.comment)
        assert reason is not None, r.comment
        assert "plumbing" not in WORDS.describe_rule(r.comment, r.family, r.chain)
    # what decides a packet's fate carries a reason; only jumps and marks do not
    for r in rs.rules:
        if not r.comment:
            assert any(w in r.text for w in ("jump", "goto", "mark set", "accept")), r.text


SPAN = NetworkIntent("n3" * 32, "quiet", FirewallFacts(("fab-q",), icc=False, tunnel="vxq",
                                                       span=("10.9.0.0/16",)),
                     ("10.9.3.0/24",), ("10.9.3.1",))
ACROSS = FirewallIntent(
    networks=(SPAN,),
    endpoints=(EndpointIntent(SPAN.id, "cq", "fvq", "10.9.3.2", "02:00:00:00:03:02"),
               EndpointIntent(SPAN.id, "remote1", "vxq", "10.9.4.2", "02:00:00:00:04:02"),
               EndpointIntent(SPAN.id, "remote2", "vxq", "10.9.4.3", "02:00:00:00:04:03")))


def test_names_the_caller_brings_for_other_hosts_and_a_tunnel_is_no_one_s_port():
    w = IntentWords(ACROSS, Names({"cq": "qa"}, addresses={"10.9.4.2": "qc",
                                                           "192.168.18.12": "h2"}))
    assert w.container("10.9.4.2") == "qc" and w.container("10.9.4.3") == "remote2"[:12]
    assert w.who("192.168.18.12") == "h2 (192.168.18.12)" and w.who("192.0.2.1") == "192.0.2.1"
    assert w.port_owner("fvq") == "qa" and w.port_owner("vxq") is None
    assert w.describe_drop(Packet("10.9.3.2", "10.9.4.2"), why.ICC_FALSE) == (
        "dropped: icc=false on network quiet; containers qa and qc are not linked")
    assert w.describe_route("10.9.4.0/24", "192.168.18.12", "eth0", 251) == (
        "route to 10.9.4.0/24 via h2 (192.168.18.12) dev eth0: fabric's, to network quiet's "
        "containers on another host")


def test_a_rule_seen_in_the_kernel_by_its_comment_or_its_place_in_an_iptables_chain():
    icc = SeenRule("bridge", "fabric", "icc", 6, "drop", why.ICC_FALSE)
    ab = Packet("10.9.1.11", "10.9.1.12")
    assert WORDS.describe_seen(ab, icc, "drop") == (
        "dropped: icc=false on network labnet; containers a and b are not linked")
    honest = SeenRule("bridge", "fabric", "prerouting", 2, "... @port_ip accept",
                      sets=("port_ip",))
    assert WORDS.describe_seen(ab, honest, "accept") == (
        "a (10.9.1.11) sends from its own MAC and address (anti-spoofing)")
    assert WORDS.describe_seen(ab, SeenRule("inet", "fabric", "forward", 5, "jump"),
                               "jump") == ""
    # someone else's: nothing to say of an accept, a drop named as theirs
    assert WORDS.describe_seen(ab, SeenRule("ip", "filter", "DOCKER-USER", 1), "accept") == ""
    assert WORDS.describe_seen(ab, SeenRule("ip", "filter", "FORWARD"), "drop").startswith(
        "dropped by ip filter FORWARD policy drop (Docker's FORWARD DROP?")
    # iptables: by the rule's place in fabric's chain, as rendered from the intent
    lines = [line for line, _ in iptables.explained(INTENT)["filter"]
             if line.startswith("-A FABRIC-FORWARD ")]
    at = next(i for i, line in enumerate(lines, 1)
              if line.endswith("-i fab-lab -o fab-lab -j DROP"))
    seen = SeenRule("ip", "filter", "FABRIC-FORWARD", at, lines[at - 1], count=len(lines))
    assert WORDS.why(seen) == why.Why(why.ICC_FALSE, LAB.id)
    assert WORDS.describe_seen(ab, seen, "drop") == WORDS.describe_seen(ab, icc, "drop")
    # a chain whose rules are not as rendered has lost its reasons
    assert WORDS.why(replace(seen, count=len(lines) + 1)) == why.PLUMBING
    assert "not as fabric renders it" in WORDS.describe_seen(
        ab, replace(seen, count=len(lines) + 1), "drop")
    raw = [line for line, _ in iptables.explained(INTENT)["raw"]]
    guard = next(i for i, line in enumerate(raw, 1) if "127.0.0.0/8" in line)
    assert WORDS.describe_seen(ab, SeenRule("ip", "raw", "FABRIC-ANTISPOOF", guard,
                                            count=len(raw)), "drop").startswith(
        "dropped: a may not reach the host's loopback")
