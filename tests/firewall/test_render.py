"""Rendering and validation as data: no kernel involved."""

import pytest

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall import iptables, nft, nftrender
from fabric.firewall.backend import get_backend
from fabric.firewall.intent import (
    EndpointIntent,
    FirewallFacts,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)
from fabric.firewall.ruleset import PortRange, Prefix


def sample(**kw) -> FirewallIntent:
    base = {
        "networks": (NetworkIntent("n1", "one", FirewallFacts(("fabbr1",), icc=False),
                                   ("10.9.1.0/24",), ("10.9.1.1",)),
                     NetworkIntent("n2", "two", FirewallFacts(("fabbr2",)), ("10.9.2.0/24",),
                                   ("10.9.2.1",), internal=True)),
        "endpoints": (EndpointIntent("n1", "c1", "fabv1", "10.9.1.11", "02:00:00:00:01:11"),
                   EndpointIntent("n1", "c2", "fabv2", "10.9.1.12", "02:00:00:00:01:12"),
                   EndpointIntent("n2", "c3", "fabv3", "10.9.2.13", "02:00:00:00:02:13")),
        "links": (LinkIntent("n1", "10.9.1.11", "10.9.1.12", (("tcp", 80, 80), ("udp", 53, 60))),),
        "ports": (PortIntent("c2", "n1", "tcp", "0.0.0.0", 8080, 8080, "10.9.1.12", 80, 80),
               PortIntent("c2", "n1", "udp", "127.0.0.1", 5000, 5001, "10.9.1.12", 53, 54),
               PortIntent("c3", "n2", "tcp", "0.0.0.0", 9090, 9090, "10.9.2.13", 80, 80)),
    }
    base.update(kw)
    return FirewallIntent(**base)


def test_elements_carry_every_fact():
    rs = nftrender.render(sample())
    el = rs.elements
    assert el[("bridge", "port_ip")] == {("fabv1", "02:00:00:00:01:11", "10.9.1.11"),
                                         ("fabv2", "02:00:00:00:01:12", "10.9.1.12"),
                                         ("fabv3", "02:00:00:00:02:13", "10.9.2.13")}
    assert el[("bridge", "icc_deny")] == {"fabv1", "fabv2"}
    assert el[("bridge", "links")] == {("10.9.1.11", "10.9.1.12", "tcp", PortRange(80, 80)),
                                       ("10.9.1.11", "10.9.1.12", "udp", PortRange(53, 60))}
    assert el[("inet", "internal")] == {"fabbr2"}
    # an internal network neither masquerades nor publishes (Docker ignores -p there)
    assert el[("inet", "masq_src")] == {Prefix("10.9.1.0", 24)}
    assert el[("inet", "dnat_any_addr")] == {(("tcp", 8080), "10.9.1.12")}
    assert el[("inet", "dnat_ip_port")] == {(("127.0.0.1", "udp", 5000), 53),
                                            (("127.0.0.1", "udp", 5001), 54)}
    assert el[("inet", "hairpin")] == {("fabbr1", Prefix("10.9.1.0", 24)),
                                       ("fabbr2", Prefix("10.9.2.0", 24))}


def test_skeleton_does_not_depend_on_links_ports_or_endpoints():
    a = nftrender.render(sample())
    b = nftrender.render(sample(links=(), ports=(), endpoints=()))
    assert a.skeleton_digest() == b.skeleton_digest()
    c = nftrender.render(sample(user_rules=(UserRule("r1", "drop", dst="10.9.1.12"),)))
    assert c.skeleton_digest() != a.skeleton_digest()


def test_delta_is_only_the_changed_elements():
    before = nftrender.render(sample())
    after = nftrender.render(sample(links=sample().links + (
        LinkIntent("n1", "10.9.1.12", "10.9.1.11", (("tcp", 443, 443),)),)))
    batch = nft.delta_batch(after, before.elements)["nftables"]
    assert [list(c) for c in batch] == [["add"], ["add"]]  # links in both tables
    assert {c["add"]["element"]["family"] for c in batch} == {"bridge", "inet"}
    assert all(c["add"]["element"]["elem"] ==
               [{"concat": ["10.9.1.12", "10.9.1.11", "tcp", 443]}] for c in batch)
    assert nft.delta_batch(before, before.elements) is None


def test_delta_replaces_a_changed_map_value_by_key():
    before = nftrender.render(sample())
    moved = list(sample().ports)
    moved[0] = PortIntent("c1", "n1", "tcp", "0.0.0.0", 8080, 8080, "10.9.1.11", 80, 80)
    batch = nft.delta_batch(nftrender.render(sample(ports=tuple(moved))), before.elements)
    cmds = batch["nftables"]
    delete = [c["delete"]["element"] for c in cmds if "delete" in c]
    assert {d["name"]: d["elem"] for d in delete} == {"dnat_any_addr": [{"concat": ["tcp", 8080]}]}


def test_user_rules_come_first_and_drop_in_both_tables():
    rule = UserRule("r1", "drop", src="10.9.1.11", dst="10.9.1.12/32", proto="tcp", dport=80)
    rs = nftrender.render(sample(user_rules=(rule,)))
    text = nft.script(rs)
    line = 'ip saddr 10.9.1.11 ip daddr 10.9.1.12 meta l4proto tcp th dport 80 counter drop'
    assert text.count(line) == 2
    fwd = [r.text for r in rs.rules if (r.family, r.chain) == ("inet", "forward")]
    assert fwd[1] == "jump user"  # after "not fabric's traffic", before everything else
    br = [r.text for r in rs.rules if (r.family, r.chain) == ("bridge", "forward")]
    assert br[0] == "jump user"


def test_reject_is_a_drop_in_the_bridge_table():
    rs = nftrender.render(sample(user_rules=(UserRule("r", "reject", proto="icmp"),)))
    user = {r.family: r.text for r in rs.rules if r.chain == "user"}
    assert user["inet"].startswith("meta l4proto icmp counter reject")
    assert user["bridge"].startswith("meta l4proto icmp counter drop")


def test_script_names_priorities():
    text = nft.script(nftrender.render(sample()))
    assert "type filter hook forward priority filter - 10; policy accept;" in text
    assert "type nat hook postrouting priority srcnat; policy accept;" in text
    assert text.startswith("add table bridge fabric\ndelete table bridge fabric\n")


@pytest.mark.parametrize("change, error, words", [
    ({"endpoints": (EndpointIntent("n1", "c", "v", "10.9.1.5", "02:00:00:00:00:zz"),)},
     InvalidArgument, "bad MAC"),
    ({"endpoints": (EndpointIntent("nope", "c", "v", "10.9.1.5", "02:00:00:00:00:01"),)},
     InvalidArgument, "unknown network"),
    ({"networks": (NetworkIntent("n1", "one", FirewallFacts(("a-bridge-name-too-long",)),
                                  ("10.9.1.0/24",), ()),)}, InvalidArgument, "1-15 characters"),
    ({"networks": (NetworkIntent("n1", "one", FirewallFacts(()), ("10.9.1.0/24",), ()),)},
     InvalidArgument, "names no interface"),
    ({"networks": (NetworkIntent("n1", "one", FirewallFacts(("b1",)), ("10.9.1.0/24",), ()),
                   NetworkIntent("n2", "two", FirewallFacts(("b1",)), ("10.9.2.0/24",), ()))},
     Conflict, "interface b1 is used by another network"),
    ({"networks": (NetworkIntent("n1", "one", FirewallFacts(("b1",), unnatted=("10.1/x",)),
                                  ("10.9.1.0/24",), ()),)}, InvalidArgument, "CIDR"),
    ({"links": (LinkIntent("n1", "10.9.1.11", "10.9.1.12", (("sctp", 1, 2),)),)},
     InvalidArgument, "protocol 'sctp'"),
    ({"ports": (PortIntent("c", "n1", "tcp", "0.0.0.0", 90, 80, "10.9.1.12", 80, 80),)},
     InvalidArgument, "reversed"),
    ({"ports": (PortIntent("c", "n1", "tcp", "0.0.0.0", 80, 82, "10.9.1.12", 80, 81),)},
     InvalidArgument, "differ in length"),
    ({"ports": (PortIntent("a", "n1", "tcp", "0.0.0.0", 80, 80, "10.9.1.12", 80, 80),
                 PortIntent("b", "n1", "tcp", "0.0.0.0", 80, 80, "10.9.1.11", 80, 80))},
     Conflict, "published twice"),
    ({"ports": (PortIntent("a", "n1", "tcp", "::", 80, 80, "10.9.1.12", 80, 80),)},
     InvalidArgument, "not an IPv4 address"),
    ({"user_rules": (UserRule("r", "log"),)}, InvalidArgument, "action 'log'"),
    ({"user_rules": (UserRule("r", "drop", dport=80),)}, InvalidArgument, "-p tcp"),
    ({"user_rules": (UserRule("r", "drop", src="10.0.0.300"),)}, InvalidArgument, "CIDR"),
])
def test_bad_intent_is_one_clear_error(change, error, words):
    with pytest.raises(error) as e:
        nftrender.render(sample(**change))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_port_range_maps_one_to_one_or_onto_one_port():
    rs = nftrender.render(sample(ports=(
        PortIntent("c", "n1", "tcp", "0.0.0.0", 8000, 8002, "10.9.1.12", 80, 82),
        PortIntent("c", "n1", "udp", "0.0.0.0", 7000, 7001, "10.9.1.12", 53, 53))))
    assert rs.elements[("inet", "dnat_any_port")] == {
        (("tcp", 8000), 80), (("tcp", 8001), 81), (("tcp", 8002), 82),
        (("udp", 7000), 53), (("udp", 7001), 53)}


def test_iptables_layout_uses_docker_style_names():
    rules = iptables.render(sample(user_rules=(UserRule("r1", "drop", dst="10.9.1.12",
                                                        proto="tcp", dport=80),)))
    flt = "\n".join(rules["filter"])
    assert "-A FABRIC-USER -d 10.9.1.12/32 -p tcp -m tcp --dport 80" in flt
    assert "-A FABRIC-FORWARD -i fabbr1 -o fabbr1 -j DROP" in flt  # icc=false
    assert "-A FABRIC -s 10.9.1.11/32 -d 10.9.1.12/32 -i fabbr1 -o fabbr1 -p udp -m udp " \
           "--dport 53:60 -j ACCEPT" in flt
    assert "-A FABRIC-ISOLATION-STAGE-1 ! -s 10.9.2.0/24 -o fabbr2 -j DROP" in flt
    nat = "\n".join(rules["nat"])
    assert "-A FABRIC -d 127.0.0.1/32 -p udp -m udp --dport 5001 -j DNAT " \
           "--to-destination 10.9.1.12:54" in nat
    assert "9090" not in nat  # internal network: not published


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(InvalidArgument, match="known: nftables, iptables"):
        get_backend("pf")


def test_disabled_intent_describes_removal_only():
    text = get_backend("nftables").describe(FirewallIntent(enabled=False))
    assert text == [("nft -f - <<'EOF'\nadd table bridge fabric\ndelete table bridge fabric\n"
                     "add table inet fabric\ndelete table inet fabric\nEOF")]


def test_incremental_render_equals_a_fresh_one():
    """Whatever the sequence of changes (additions, removals, reordering, duplicates,
    networks coming and going, rejected intents), rendering with the memo of the
    previous intents gives exactly what rendering from scratch gives."""
    import random

    from fabric.firewall import validate
    rnd = random.Random(7)
    nets = [NetworkIntent(f"n{i}", f"net{i}", FirewallFacts((f"fabbr{i}",), icc=bool(i % 2)),
                          (f"10.7.{i}.0/24",), (), internal=(i == 2)) for i in range(3)]
    links = [LinkIntent(f"n{rnd.randrange(3)}", f"10.7.0.{rnd.randrange(1, 20)}",
                        f"10.7.0.{rnd.randrange(1, 20)}", (("tcp", 80, 80 + rnd.randrange(3)),))
             for _ in range(30)]
    ports = [PortIntent(f"c{i}", f"n{i % 3}", "tcp", rnd.choice(["0.0.0.0", "127.0.0.1"]),
                        9000 + i, 9000 + i, f"10.7.0.{i + 1}", 80, 80) for i in range(30)]
    eps = [EndpointIntent(f"n{i % 3}", f"c{i}", f"fabv{i}", f"10.7.0.{i + 1}",
                          f"02:00:00:00:00:{i:02x}") for i in range(10)]
    memo = validate.Memo()
    rendered = 0
    for step in range(200):
        present = tuple(n for n in nets if n.id != "n1" or step % 17 < 12)
        fi = FirewallIntent(
            networks=present,
            endpoints=tuple(e for e in eps if rnd.random() < 0.9
                            and e.network_id in {n.id for n in present}),
            links=tuple(rnd.sample(links, rnd.randrange(0, 12)) + links[:2]),  # dupes too
            ports=tuple(sorted(rnd.sample(ports, rnd.randrange(0, 10)), key=lambda p: p.host_port)))
        if step % 23 == 0:  # a rejected intent must leave the memo as it was
            bad = FirewallIntent(**{**fi.__dict__, "ports": fi.ports + (
                PortIntent("zz", "n0", "tcp", "0.0.0.0", 1, 1, "300.1.1.1", 80, 80),)})
            with pytest.raises(InvalidArgument):
                nftrender.render(bad, memo=memo)
        try:
            fresh = nftrender.render(fi)
        except (InvalidArgument, Conflict):
            continue
        assert nftrender.render(fi, memo=memo).elements == fresh.elements, step
        rendered += 1
    assert rendered > 150


def _one_network(facts: FirewallFacts, **kw) -> FirewallIntent:
    return FirewallIntent(
        networks=(NetworkIntent("n1", "one", facts, ("10.9.1.0/24",), ("10.9.1.1",)),),
        endpoints=(EndpointIntent("n1", "c1", "fv1", "10.9.1.11", "02:00:00:00:01:11"),
                   EndpointIntent("n1", "c2", "fv2", "10.9.1.12", "02:00:00:00:01:12")), **kw)


def test_unnatted_subnets_are_neither_masqueraded_nor_refused_coming_in():
    fi = _one_network(FirewallFacts(("fabbr1",), unnatted=("10.50.0.0/16",)))
    rs = nftrender.render(fi)
    assert rs.elements[("inet", "unnat")] == {(Prefix("10.9.1.0", 24), Prefix("10.50.0.0", 16))}
    assert nftrender.render(sample()).elements[("inet", "unnat")] == frozenset()
    rules = iptables.render(fi)
    nat = rules["nat"]
    skip = nat.index("-A FABRIC-POSTROUTING -s 10.9.1.0/24 -d 10.50.0.0/16 -j RETURN")
    assert skip < nat.index("-A FABRIC-POSTROUTING -s 10.9.1.0/24 ! -o fabbr1 -j MASQUERADE")
    flt = rules["filter"]
    come_in = flt.index("-A FABRIC-FORWARD -s 10.50.0.0/16 -d 10.9.1.0/24 -o fabbr1 -j ACCEPT")
    assert come_in < flt.index("-A FABRIC-FORWARD -o fabbr1 -j DROP")


def test_a_network_with_an_interface_per_container():
    """What a routing driver would state: its containers sit behind their own veths, no
    bridge. Every interface counts as the network's, pairs of them as within it."""
    fi = _one_network(FirewallFacts(("fv1", "fv2"), bridged=False, icc=False),
                      ports=(PortIntent("c1", "n1", "tcp", "0.0.0.0", 8080, 8080,
                                        "10.9.1.11", 80, 80),))
    el = nftrender.render(fi).elements
    assert el[("inet", "bridges")] == {"fv1", "fv2"}
    assert el[("inet", "same_bridge")] == {("fv1", "fv1"), ("fv1", "fv2"), ("fv2", "fv1"),
                                           ("fv2", "fv2")}
    assert el[("inet", "icc_same")] == frozenset()
    assert el[("bridge", "ports")] == frozenset()   # no bridge ever sees their frames
    rules = iptables.render(fi)
    assert not any("physdev" in r for r in rules["raw"])
    flt = rules["filter"]
    assert flt.index("-A FABRIC-FORWARD -i fv1 -o fv2 -j DROP") < \
        flt.index("-A FABRIC-FORWARD -i fv1 ! -o fv1 -j ACCEPT")
    assert "-A FABRIC-ISOLATION-STAGE-1 -i fv1 -o fv2 -j RETURN" in flt
    assert rules["nat"][-3:] == ["-A FABRIC-POSTROUTING -s 10.9.1.0/24 -o fv1 -j RETURN",
                                 "-A FABRIC-POSTROUTING -s 10.9.1.0/24 -o fv2 -j RETURN",
                                 "-A FABRIC-POSTROUTING -s 10.9.1.0/24 -j MASQUERADE"]
    described = get_backend("iptables").describe(fi)
    assert not any("nf_call_iptables" in line for line in described)
