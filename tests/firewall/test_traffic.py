"""Real traffic through each backend: reachability matrices over TCP, UDP and ICMP,
icc=false with link pairs, forged frames crafted with scapy, published ports from
everywhere, user rules, isolation and masquerade. Each lab runs with br_netfilter on
(this kernel's default, and any Docker host's) and off, where bridged frames reach no
IP-level hook at all."""

import time

import pytest
from polling import wait_for

from fabric.firewall.intent import LinkIntent, PortIntent, UserRule

from .conftest import make_lab
from .topo import UPLINK_HOST, UPLINK_OUT, run
from .traffic import arp_reply, parallel, ping, send_frames, tcp, udp, udp_frame

BRNF = [pytest.param(True, id="brnf-on"), pytest.param(False, id="brnf-off")]
NAMES = ("c1", "c2", "c3", "c4", "c5")


def matrix(t, names=NAMES) -> set[tuple[str, str, str]]:
    """Every (from, to, probe) that got through, probing all pairs at once."""
    calls = {}
    for a in names:
        for b in names:
            if a == b:
                continue
            src, dst = t.ctrs[a].ns, t.ctrs[b].ip
            calls[(a, b, "tcp80")] = (tcp, src, dst, 80)
            calls[(a, b, "tcp81")] = (tcp, src, dst, 81)
            calls[(a, b, "udp53")] = (udp, src, dst, 53)
            calls[(a, b, "icmp")] = (ping, src, dst)
    return {k for k, v in parallel(calls).items() if v}


def everything_within(group) -> set:
    return {(a, b, p) for a in group for b in group if a != b
            for p in ("tcp80", "tcp81", "udp53", "icmp")}


@pytest.mark.parametrize("brnf", BRNF)
def test_icc_true_network_is_open_inside_and_isolated_from_others(
        topo, servers, applied, backend_name, brnf):
    t = make_lab(topo, servers, br_netfilter=brnf)
    applied(t.intent(), backend_name)
    assert matrix(t) == everything_within(("c1", "c2", "c3", "c4"))


@pytest.mark.parametrize("brnf", BRNF)
def test_icc_false_lets_only_link_pairs_through(topo, servers, applied, backend_name, brnf):
    t = make_lab(topo, servers, br_netfilter=brnf, icc=False)
    c = t.ctrs
    a = t.nets["a"].id
    applied(t.intent(links=(LinkIntent(a, c["c1"].ip, c["c2"].ip,
                                       (("tcp", 80, 80), ("udp", 53, 53))),)), backend_name)
    # the consumer reaches the target on its exposed ports, replies included, and
    # nothing else gets through: not the other way, not port 81, not ping, not c3/c4
    assert matrix(t) == {("c1", "c2", "tcp80"), ("c1", "c2", "udp53")}


@pytest.mark.parametrize("brnf", BRNF)
def test_forged_sources_do_not_get_through(topo, servers, applied, backend_name, brnf):
    t = make_lab(topo, servers, br_netfilter=brnf, icc=False)
    c1, c2, c4 = (t.ctrs[n] for n in ("c1", "c2", "c4"))
    applied(t.intent(links=(LinkIntent(t.nets["a"].id, c1.ip, c2.ip, (("udp", 53, 53),)),)),
            backend_name)
    to_c2 = {"dst_mac": c2.mac, "dst_ip": c2.ip, "dport": 53}
    # the linked consumer's own frame: proves the raw-frame path itself works
    send_frames(c1.ns, [udp_frame(c1.mac, src_ip=c1.ip, payload=b"genuine", **to_c2)])
    # c4 pretends to be c1 (the one container c2 accepts) by IP, by MAC, by both
    send_frames(c4.ns, [
        udp_frame(c4.mac, src_ip=c1.ip, payload=b"forged-ip", **to_c2),
        udp_frame(c1.mac, src_ip=c4.ip, payload=b"forged-mac", **to_c2),
        udp_frame(c1.mac, src_ip=c1.ip, payload=b"forged-both", **to_c2),
    ])
    wait_for(lambda: servers.got(c2.ns, b"genuine"))
    time.sleep(0.3)  # the forged frames went after it; give them the same time
    for what in (b"forged-ip", b"forged-mac", b"forged-both"):
        assert not servers.got(c2.ns, what), what


def test_forged_source_blocked_on_an_open_network_too(topo, servers, applied, backend_name):
    t = make_lab(topo, servers)
    c2, c3, c4 = (t.ctrs[n] for n in ("c2", "c3", "c4"))
    applied(t.intent(), backend_name)
    send_frames(c4.ns, [udp_frame(c4.mac, c2.mac, c4.ip, c2.ip, 53, b"own"),
                        udp_frame(c4.mac, c2.mac, c3.ip, c2.ip, 53, b"as-c3")])
    wait_for(lambda: servers.got(c2.ns, b"own"))
    time.sleep(0.3)
    assert not servers.got(c2.ns, b"as-c3")


def test_forged_arp_does_not_poison_neighbours(topo, servers, applied):
    """moby#29108: with Docker, a container can claim another's address in ARP."""
    t = make_lab(topo, servers)
    c1, c2, c4 = (t.ctrs[n] for n in ("c1", "c2", "c4"))

    def c1_mac_seen_by_c2() -> str | None:
        from pyroute2 import IPRoute
        with IPRoute(netns=c2.ns) as ipr:
            for n in ipr.get_neighbours(dst=c1.ip):
                return n.get_attr("NDA_LLADDR")
        return None

    assert ping(c2.ns, c1.ip)  # c2 learns c1's MAC
    applied(t.intent())
    time.sleep(1.1)  # past the neighbour table's 1 s locktime, so a reply would count
    send_frames(c4.ns, [arp_reply(c4.mac, c2.mac, c1.ip, c2.ip)] * 3)
    time.sleep(0.2)
    assert c1_mac_seen_by_c2() == c1.mac


@pytest.mark.parametrize("brnf", BRNF)
def test_published_ports_reach_from_everywhere(topo, servers, applied, backend_name, brnf):
    t = make_lab(topo, servers, br_netfilter=brnf, icc=False)
    c = t.ctrs
    a = t.nets["a"].id
    ports = (
        PortIntent("ctr-c3", a, "tcp", "0.0.0.0", 8080, 8081, c["c3"].ip, 80, 81),
        PortIntent("ctr-c3", a, "udp", "0.0.0.0", 5353, 5353, c["c3"].ip, 53, 53),
        PortIntent("ctr-c4", a, "tcp", "127.0.0.1", 9090, 9090, c["c4"].ip, 80, 80),
    )
    applied(t.intent(ports=ports), backend_name)
    got = parallel({
        # another host keeps its own address: DNAT, no SNAT
        "outside": (tcp, t.outside, UPLINK_HOST, 8080),
        "outside range": (tcp, t.outside, UPLINK_HOST, 8081),
        "outside udp": (udp, t.outside, UPLINK_HOST, 5353),
        # the host itself, through its own address, the bridge's, and loopback
        "host": (tcp, t.host, UPLINK_HOST, 8080),
        "host gateway": (tcp, t.host, t.nets["a"].gateway, 8080),
        "host loopback": (tcp, t.host, "127.0.0.1", 8080),
        "host loopback udp": (udp, t.host, "127.0.0.1", 5353),
        "loopback-only port": (tcp, t.host, "127.0.0.1", 9090),
        # hairpin: the container itself, and a neighbour on its icc=false network
        "hairpin self": (tcp, c["c3"].ns, UPLINK_HOST, 8080),
        "hairpin neighbour": (tcp, c["c1"].ns, UPLINK_HOST, 8080),
        "other network": (tcp, c["c5"].ns, UPLINK_HOST, 8080),
        # not published: these stay shut
        "loopback-only from outside": (tcp, t.outside, UPLINK_HOST, 9090),
        "direct from neighbour": (tcp, c["c1"].ns, c["c3"].ip, 80),
        "direct from outside": (tcp, t.outside, c["c3"].ip, 80),
    })
    gw = t.nets["a"].gateway
    assert got["outside"] == UPLINK_OUT and got["outside range"] == UPLINK_OUT
    assert got["outside udp"] == UPLINK_OUT
    assert got["host"] == UPLINK_HOST and got["host gateway"] == gw
    assert got["host loopback"] == gw and got["host loopback udp"] == gw  # masqueraded
    assert got["loopback-only port"] == gw
    assert got["hairpin self"] == gw and got["hairpin neighbour"] == gw
    assert got["other network"]
    for shut in ("loopback-only from outside", "direct from neighbour", "direct from outside"):
        assert got[shut] is None, shut


@pytest.mark.parametrize("brnf", BRNF)
def test_published_ports_on_an_icc_true_network(topo, servers, applied, brnf):
    """nftables leaves traffic between containers of an icc=true network untracked;
    what needs NAT (through the host's address or the gateway, from the network itself
    or from another one) must still get it, both ways."""
    t = make_lab(topo, servers, br_netfilter=brnf)
    c, a, gw = t.ctrs, t.nets["a"].id, t.nets["a"].gateway
    applied(t.intent(ports=(
        PortIntent("ctr-c3", a, "tcp", "0.0.0.0", 8080, 8080, c["c3"].ip, 80, 80),)))
    got = parallel({
        "outside": (tcp, t.outside, UPLINK_HOST, 8080),
        "hairpin self": (tcp, c["c3"].ns, UPLINK_HOST, 8080),
        "hairpin neighbour": (tcp, c["c1"].ns, UPLINK_HOST, 8080),
        "neighbour via gateway": (tcp, c["c1"].ns, gw, 8080),
        "other network": (tcp, c["c5"].ns, UPLINK_HOST, 8080),
        "direct": (tcp, c["c1"].ns, c["c3"].ip, 80),
        "direct udp": (udp, c["c2"].ns, c["c3"].ip, 53),
    })
    assert got["outside"] == UPLINK_OUT
    assert got["hairpin self"] == gw and got["hairpin neighbour"] == gw
    assert got["neighbour via gateway"] == gw
    assert got["other network"] == c["c5"].ip
    assert got["direct"] == c["c1"].ip and got["direct udp"] == c["c2"].ip


def test_containers_cannot_reach_the_hosts_loopback(topo, servers, applied, backend_name):
    """route_localnet on the bridge (needed to publish on 127.0.0.1) would otherwise let
    a container reach the host's loopback-only services (CVE-2020-8558); without
    fabric's guard chain this very datagram is delivered."""
    t = make_lab(topo, servers)
    c1 = t.ctrs["c1"]
    servers.udp(t.host, 7777, "127.0.0.1")
    applied(t.intent(ports=(PortIntent("ctr-c2", t.nets["a"].id, "tcp", "0.0.0.0", 8080, 8080,
                                       t.ctrs["c2"].ip, 80, 80),)), backend_name)
    gw_mac = _mac_of(t.host, t.nets["a"].bridge)
    send_frames(c1.ns, [udp_frame(c1.mac, gw_mac, c1.ip, "127.0.0.1", 7777, b"sneak")])
    time.sleep(0.3)
    assert not servers.got(t.host, b"sneak")
    assert udp(t.host, "127.0.0.1", 7777) == "127.0.0.1"  # the service itself is up


@pytest.mark.parametrize("brnf", BRNF)
def test_user_rule_drop_wins(topo, servers, applied, backend_name, brnf):
    t = make_lab(topo, servers, br_netfilter=brnf)
    c = t.ctrs
    a = t.nets["a"].id
    rules = (UserRule("r1", "drop", src=c["c1"].ip, dst=c["c2"].ip, proto="tcp", dport=80),
             # after DNAT, as Docker's DOCKER-USER sees it: the container's address
             UserRule("r2", "drop", src=UPLINK_OUT, dst=c["c3"].ip, proto="tcp", dport=80))
    applied(t.intent(user_rules=rules, ports=(
        PortIntent("ctr-c3", a, "tcp", "0.0.0.0", 8080, 8080, c["c3"].ip, 80, 80),)),
        backend_name)
    got = parallel({
        "dropped": (tcp, c["c1"].ns, c["c2"].ip, 80),
        "other port": (tcp, c["c1"].ns, c["c2"].ip, 81),
        "other source": (tcp, c["c4"].ns, c["c2"].ip, 80),
        "published, dropped": (tcp, t.outside, UPLINK_HOST, 8080),
        "published, from the host": (tcp, t.host, UPLINK_HOST, 8080),
    })
    assert got["dropped"] is None and got["published, dropped"] is None
    assert got["other port"] and got["other source"] and got["published, from the host"]


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_internal_network_and_masquerade(topo, servers, applied, backend):
    t = topo
    t.build_host(br_netfilter=True)
    t.add_net("a", "10.233.1.0/24")
    t.add_net("i", "10.233.9.0/24", internal=True)
    t.add_ctr("c1", "a", 11)
    t.add_ctr("i1", "i", 11)
    t.add_ctr("i2", "i", 12)
    for name in ("c1", "i1", "i2"):
        servers.tcp(t.ctrs[name].ns, 80)
    servers.tcp(t.outside, 9000)
    applied(t.intent(), backend)
    c1, i1, i2 = t.ctrs["c1"], t.ctrs["i1"], t.ctrs["i2"]
    got = parallel({
        "outbound": (tcp, c1.ns, UPLINK_OUT, 9000),
        "internal outbound": (tcp, i1.ns, UPLINK_OUT, 9000),
        "internal inside": (tcp, i1.ns, i2.ip, 80),
        "internal to other network": (tcp, i1.ns, c1.ip, 80),
        "other network to internal": (tcp, c1.ns, i1.ip, 80),
        "unsolicited inbound": (tcp, t.outside, c1.ip, 80),
    })
    assert got["outbound"] == UPLINK_HOST  # masqueraded to the host's address
    assert got["internal inside"] == i1.ip
    for shut in ("internal outbound", "internal to other network",
                 "other network to internal", "unsolicited inbound"):
        assert got[shut] is None, shut


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_unnatted_subnets_are_reached_both_ways_as_they_are(topo, servers, applied, backend):
    """A driver's `unnatted` subnets (a routing driver's peer slices): traffic to them
    keeps the container's address, and traffic from them gets in unasked, where
    anything else is masqueraded going out and dropped coming in."""
    t = topo
    t.build_host(br_netfilter=True)
    t.add_net("a", "10.233.3.0/24", unnatted=(f"{UPLINK_OUT}/32",))
    t.add_net("b", "10.233.4.0/24")
    c1, c2 = t.add_ctr("c1", "a", 11), t.add_ctr("c2", "b", 11)
    for c in (c1, c2):
        servers.tcp(c.ns, 80)
    servers.tcp(t.outside, 9000)
    # the outside routes container subnets through the host, as a peer host would
    assert run(t.outside, "ip", "route", "add", "10.233.0.0/16", "via", UPLINK_HOST).returncode == 0
    applied(t.intent(), backend)
    got = parallel({
        "out, unnatted": (tcp, c1.ns, UPLINK_OUT, 9000),
        "out, masqueraded": (tcp, c2.ns, UPLINK_OUT, 9000),
        "in, unnatted": (tcp, t.outside, c1.ip, 80),
        "in, unasked": (tcp, t.outside, c2.ip, 80),
    })
    assert got["out, unnatted"] == c1.ip and got["out, masqueraded"] == UPLINK_HOST
    assert got["in, unnatted"] == UPLINK_OUT and got["in, unasked"] is None


def _mac_of(ns: str, ifname: str) -> str:
    from pyroute2 import IPRoute
    with IPRoute(netns=ns) as ipr:
        return ipr.get_links(ifname=ifname)[0].get_attr("IFLA_ADDRESS")
