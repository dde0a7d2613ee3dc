"""Seed 003: two hosts, a `--bip` each, and a hand-made route on each to the other's
container subnet. Docker 20.10 drops such routed traffic in its FORWARD chain, and
fabric's firewall does too, unless the host setting `routed-subnets` names the
subnets that may reach the default bridge's containers as they are (and that its
containers reach without NAT)."""

import json

import pytest
from multihost import MultiHost

# host -> (its bip, the other's container subnet, the other host's address)
HOSTS = {"d128": ("192.168.18.128/24", "172.17.42.1/16", "172.18.0.0/16", "192.168.18.130"),
         "d130": ("192.168.18.130/24", "172.18.42.1/16", "172.17.0.0/16", "192.168.18.128")}


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("sd")
    try:
        for name, (addr, bip, other, via) in HOSTS.items():
            m.add(name, addr, cluster=False, routes=((other, via),), settings={
                "bip": bip, "routed-subnets": [other, "192.168.18.0/24"]})
        m.a = m.hosts["d128"].run("a")       # type: ignore[attr-defined]
        m.b = m.hosts["d130"].run("b")       # type: ignore[attr-defined]
        yield m
    finally:
        m.close()


def restart_without_the_setting(lab) -> None:
    for h in lab.hosts.values():
        h.host.stop_daemon()
        with open(h.host.root.settings) as f:
            s = json.load(f)
        del s["routed-subnets"]
        with open(h.host.root.settings, "w") as f:
            json.dump(s, f)
        h.host.start_daemon()


def test_hand_made_routes_reach_the_other_host_s_containers_with_the_setting(lab):
    a, b = lab.a, lab.b
    assert (a.ip("bridge"), b.ip("bridge")) == ("172.17.0.1", "172.18.0.1")
    assert a.probe("172.18.0.1").result == "ok" and b.probe("172.17.0.1").result == "ok"
    assert a.source_seen_by(b, "172.18.0.1") == "172.17.0.1"      # routed, not NATed
    # the LAN was named too: the other host itself reaches the containers
    assert b.source_seen_by(a, "172.17.0.1") == "172.18.0.1"
    from multihost import seen_source
    assert seen_source(a.netns, lab.hosts["d130"].netns, "172.17.0.1", 7100) == \
        "192.168.18.130"


def test_without_the_setting_routed_traffic_is_dropped_as_by_docker_20_10(lab):
    restart_without_the_setting(lab)
    a, b = lab.a, lab.b
    assert a.probe("172.18.0.1").result == "blocked"
    assert b.probe("172.17.0.1", "tcp", 80).result == "blocked"
    # and what leaves for elsewhere is masqueraded again, as before
    assert "172.17.0.0/16" in lab.hosts["d128"].sh("nft list set inet fabric masq_src").stdout
