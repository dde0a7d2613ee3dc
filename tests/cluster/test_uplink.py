"""Hosts joined at layer 2 (seed 001 §15.1), both ways: the bridge driver's
`-o uplink=eth0` on a lab-wide network, each host handing out its own slice of the
LAN; and the seed's own, a NIC in a bridge br0 made beforehand and the default bridge
on it (`bridge: br0`, `fixed-cidr`). All four hosts share one segment, so the two
ways meet too."""

import json

import pytest
from multihost import MultiHost

LAN = "192.168.18.0/24"


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("up")
    try:
        m.add("h1", "192.168.18.11/24", routes=(("10.77.0.0/16", "192.168.18.99"),))
        m.add("h2", "192.168.18.12/24")
        for name, cidr in (("h3", "192.168.18.128/27"), ("h4", "192.168.18.160/27")):
            m.add(name, f"192.168.18.{13 if name == 'h3' else 14}/24", nic_bridge="br0",
                  settings={"bridge": "br0", "fixed-cidr": cidr})
        yield m
    finally:
        m.close()


def state(h) -> tuple[str, str]:
    return (h.sh("ip -4 -br addr show").stdout, h.sh("ip route").stdout)


def test_an_uplinked_network_puts_containers_of_two_hosts_on_one_lan(lab):
    h1, h2 = lab.hosts["h1"], lab.hosts["h2"]
    before = state(h1)
    for h, piece in ((h1, "192.168.18.64/27"), (h2, "192.168.18.96/27")):
        h.fab("network", "create", "--subnet", LAN, "--gateway", "192.168.18.1", "-o",
              "uplink=eth0", "-o", f"slice={piece}", "lan")
    try:
        br = "fab-" + h1.fab("network", "inspect", "-f", "{{.Id}}", "lan").stdout[:10]
        addrs, routes = state(h1)
        # the NIC's address and routes moved to the network's bridge, the NIC its port
        assert f"{br}" in addrs and "192.168.18.11/24" in addrs.split(br)[1].split("\n")[0]
        assert f"10.77.0.0/16 via 192.168.18.99 dev {br}" in routes
        assert f"master {br}" in h1.sh("ip link show eth0").stdout
        a = h1.run("a", "--network", "lan")
        b = h2.run("b", "--network", "lan", "--ip", "192.168.18.100")
        assert a.ip("lan") == "192.168.18.64"      # from h1's own slice
        assert a.probe("192.168.18.100").result == "ok"
        assert a.source_seen_by(b, "192.168.18.100") == "192.168.18.64"   # bridged as is
        assert b.probe("192.168.18.11").result == "ok"                    # a host on the LAN
        # a daemon restarting re-applies the same plan: nothing moves twice
        h1.host.stop_daemon()
        h1.host.start_daemon()
        assert state(h1) == (addrs, routes)
        assert a.probe("192.168.18.100").result == "ok"
        # the seed's way on the same LAN: a container behind h3's br0
        c = lab.hosts["h3"].run("c")
        assert c.ip("bridge") == "192.168.18.128"
        assert a.source_seen_by(c, "192.168.18.128") == "192.168.18.64"
        lab.hosts["h3"].fab("rm", "-f", "c")
        # an address another host's container holds is refused on this one
        r = h1.fab("run", "-d", "--network", "lan", "--ip", "192.168.18.100", "busybox",
                   "true", check=False)
        assert r.returncode == 125 and "already in use" in r.stderr
        h1.fab("rm", "-f", "a")
        h2.fab("rm", "-f", "b")
    finally:
        for h in (h1, h2):
            h.fab("rm", "-f", "a", "b", check=False)
            h.fab("network", "rm", "lan", check=False)
    # removing the network gave the NIC its address and routes back
    assert state(h1) == before
    assert "master" not in h1.sh("ip link show eth0").stdout


def test_the_default_bridge_on_a_br0_holding_the_nic_and_its_address(lab):
    h3, h4 = lab.hosts["h3"], lab.hosts["h4"]
    cfg = json.loads(h3.fab("network", "inspect", "-f", "{{json .IPAM.Config}}",
                            "bridge").stdout)
    assert cfg == [{"Subnet": "192.168.18.0/24", "Gateway": "192.168.18.13",
                    "IPRange": "192.168.18.128/27"}]
    c = h3.run("c")
    d = h4.run("d")
    try:
        assert (c.ip("bridge"), d.ip("bridge")) == ("192.168.18.128", "192.168.18.160")
        assert c.source_seen_by(d, "192.168.18.160") == "192.168.18.128"
        assert d.probe("192.168.18.11").result == "ok"
    finally:
        h3.fab("rm", "-f", "c")
        h4.fab("rm", "-f", "d")
    # the bridge and its address were the host's, and stay
    assert "192.168.18.13/24" in h3.sh("ip -4 -br addr show br0").stdout
