"""The routing driver across real lab hosts: two hosts, then a third that joins while
one daemon is down and leaves again; containers ping and talk TCP across hosts with
their own addresses, masquerade only leaving the fabric, icc=false and --link still
hold. One lab for the module (hosts take a while to make); each test cleans up what
it adds."""

import json
import re
import time

import pytest
from multihost import MultiHost, apply, routing_pair, seen_source, wait_until

from fabric.plan import AddRoute
from fabric.probe import Probe, send

SUBNET = "10.40.0.0/16"


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("rt")
    try:
        # h1's default bridge keeps containers apart (icc=false) but for --link pairs
        routing_pair(m, SUBNET, h1_settings={"icc": "false"})
        yield m
    finally:
        m.close()


def members_of(lab):
    from fabric.cluster.connect import connect
    cluster = connect(lab.store)
    return cluster.members(cluster.networks.find_network("cnet")["id"])


def routes(h) -> str:
    return h.sh("ip route show proto 251").stdout


def test_containers_reach_each_other_across_hosts_with_their_own_addresses(lab):
    h1, h2, a, b = lab.hosts["h1"], lab.hosts["h2"], lab.a, lab.b
    # each host its /24 in the order they joined, behind a gateway of its own
    assert a.ip("cnet") == "10.40.0.2" and b.ip("cnet") == "10.40.1.2"
    assert "10.40.1.0/24 via 192.168.18.12 dev eth0" in routes(h1)
    assert "10.40.0.0/24 via 192.168.18.11 dev eth0" in routes(h2)
    assert a.probe("10.40.1.2").result == "ok" and b.probe("10.40.0.2").result == "ok"
    # no NAT between the network's containers: the receiver sees the sender itself
    assert a.source_seen_by(b, "10.40.1.2") == "10.40.0.2"
    assert b.source_seen_by(a, "10.40.0.2") == "10.40.1.2"
    # one network, seen by each host with its own slice
    ins = [h.fab("network", "inspect", "-f", "{{.Id}} {{.Scope}} {{json .IPAM.Config}}",
                 "cnet").stdout.split(" ", 2) for h in (h1, h2)]
    assert ins[0][:2] == ins[1][:2] and ins[0][1] == "global"
    assert [c["Subnet"] for i in ins for c in json.loads(i[2])] == ["10.40.0.0/24",
                                                                     "10.40.1.0/24"]
    peers = json.loads(h1.fab("network", "inspect", "-f", "{{json .Peers}}", "cnet").stdout)
    assert peers == [{"Name": f"{lab.name}.h2", "IP": "192.168.18.12"}]


def test_masquerade_only_for_traffic_leaving_the_fabric(lab):
    h2, a = lab.hosts["h2"], lab.a
    out = lab.outside("out", "192.168.18.200/24")
    # out of the fabric: masqueraded behind h1's underlay address
    assert seen_source(out, a.netns, "192.168.18.200", 7001) == "192.168.18.11"
    # a member host is part of the fabric: it reaches the container, which sees it
    assert seen_source(a.netns, h2.netns, "10.40.0.2", 7002) == "192.168.18.12"
    # and the world outside does not get in, even with a route to it
    apply(AddRoute(ns=out, dst=SUBNET, gateway="192.168.18.11"))
    assert send(out, Probe("icmp", "10.40.0.2", timeout=0.5)).result == "blocked"


def test_a_host_joining_later_is_routed_within_2s_caught_up_by_a_restarted_daemon_and_unrouted_when_it_leaves(lab):  # noqa: E501
    h1, h2, a, b = lab.hosts["h1"], lab.hosts["h2"], lab.a, lab.b
    assert h1.host is not None
    h1.host.stop_daemon()        # h1 misses the join: it must catch up when back
    h3 = lab.add("h3", "192.168.18.13/24")
    try:
        # a dry run shows the slice this host would get, and takes none
        dry = h3.fab("network", "create", "--dry-run", "-d", "routing", "--subnet", SUBNET,
                     "cnet").stdout
        assert "ip addr add 10.40.2.1/24 dev fab-" in dry, dry
        assert [m.host for m in members_of(lab)] == [f"{lab.name}.h1", f"{lab.name}.h2"]
        h3.fab("network", "create", "-d", "routing", "--subnet", SUBNET, "-o",
               "slice=10.40.9.0/24", "cnet")
        joined = time.monotonic()
        got, took = wait_until(lambda: "10.40.9.0/24 via 192.168.18.13" in routes(h2), 2.0)
        assert got, routes(h2)
        print(f"peer joined: routed on h2 after {took * 1000:.0f} ms")
        assert time.monotonic() - joined < 2.0
        c = h3.run("c", "--network", "cnet")
        assert c.ip("cnet") == "10.40.9.2"
        assert b.probe("10.40.9.2").result == "ok"
        assert a.probe("10.40.9.2").result == "blocked"     # h1 has no route yet
        h1.host.start_daemon()
        got, took = wait_until(lambda: "10.40.9.0/24 via 192.168.18.13" in routes(h1), 2.0)
        assert got, routes(h1)
        print(f"restarted daemon caught up after {took * 1000:.0f} ms")
        assert a.probe("10.40.9.2").result == "ok" and c.probe("10.40.0.2").result == "ok"
        assert c.source_seen_by(a, "10.40.0.2") == "10.40.9.2"

        h3.fab("rm", "-f", "c")
        h3.fab("network", "rm", "cnet")
        left = time.monotonic()
        for h in (h1, h2):
            gone, took = wait_until(lambda h=h: "10.40.9.0" not in routes(h), 2.0)
            assert gone, routes(h)
            print(f"peer left: unrouted on {h.name} after {took * 1000:.0f} ms")
        assert time.monotonic() - left < 2.0
        assert "10.40.9.0/24" not in h3.sh("ip route").stdout   # its own side gone too
    finally:
        lab.remove("h3")
        h1.host.start_daemon()
    assert a.probe("10.40.1.2").result == "ok"      # the others never noticed


def test_icc_false_keeps_the_network_s_containers_apart_on_one_host_and_across(lab):
    h1, h2 = lab.hosts["h1"], lab.hosts["h2"]
    for h in (h1, h2):
        h.fab("network", "create", "-d", "routing", "--subnet", "10.41.0.0/16", "-o",
              "icc=false", "quiet")
    try:
        q1 = h1.run("q1", "--network", "quiet")
        q2 = h1.run("q2", "--network", "quiet")
        r1 = h2.run("r1", "--network", "quiet")
        ip1 = q1.ip("quiet")
        assert q2.probe(ip1, "tcp", 80).result == "blocked"      # same host
        assert r1.probe(ip1, "tcp", 80).result == "blocked"      # another host
        assert q1.probe(r1.ip("quiet"), "tcp", 80).result == "blocked"
        # the network's hosts themselves still reach its containers
        assert send(h2.netns, Probe("tcp", ip1, 80)).result == "refused"
    finally:
        for h, names in ((h1, ("q1", "q2")), (h2, ("r1",))):
            h.fab("rm", "-f", *names)
            h.fab("network", "rm", "quiet")
    assert not re.search(r"10\.41\.", routes(h1) + routes(h2))


def test_links_on_a_default_bridge_with_icc_off_still_hold_beside_it(lab):
    h1 = lab.hosts["h1"]
    web = h1.run("web", "--expose", "80")
    cli = h1.run("cli", "--link", "web:db")
    other = h1.run("other")
    try:
        ip = web.ip("bridge")
        assert seen_source(web.netns, cli.netns, ip, 80) == cli.ip("bridge")
        assert other.probe(ip, "tcp", 80).result == "blocked"
        assert cli.probe(ip, "tcp", 81).result == "blocked"
        # the routing network's container on the same host is outside that bridge
        assert lab.a.probe(ip, "tcp", 80).result == "blocked"
    finally:
        h1.fab("rm", "-f", "web", "cli", "other")
