"""The ovs driver across two real lab hosts, each running its own ovsdb-server and
ovs-vswitchd: the seed's GRE with a subnet per host plus host routes, the flat variant
over VXLAN, TCP across, and `network rm` leaving no OVS process, socket, database or
marked port behind."""

import os

import pytest
from multihost import MultiHost, seen_source, wait_until

from fabric.ovs import daemons


def ovs_dir(h) -> str:
    return os.path.join(h.host.root.path, "ovs")


def ovs_running(h) -> bool:
    return daemons.Instance(ovs_dir(h)).running()


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("ov")
    try:
        m.add("h1", "192.168.18.11/24")
        m.add("h2", "192.168.18.12/24")
        yield m
    finally:
        m.close()


def test_gre_with_a_subnet_per_host_and_host_routes(lab):
    h1, h2 = lab.hosts["h1"], lab.hosts["h2"]
    h1.fab("network", "create", "-d", "ovs", "--subnet", "192.168.0.0/22",
           "-o", "slice=192.168.1.0/24", "obr")
    h2.fab("network", "create", "-d", "ovs", "--subnet", "192.168.0.0/22",
           "-o", "slice=192.168.2.0/24", "obr")
    a = h1.run("a", "--network", "obr")
    b = h2.run("b", "--network", "obr", cmd="httpd -f -p 80 -h /")
    try:
        assert a.ip("obr") == "192.168.1.2" and b.ip("obr") == "192.168.2.2"
        got, took = wait_until(lambda: a.probe("192.168.2.2").result == "ok", 5.0)
        assert got, h1.sh("ip route").stdout + h1.daemon_log()[-3000:]
        print(f"reachable across after {took * 1000:.0f} ms")
        assert b.probe("192.168.1.2").result == "ok"
        # routed by both hosts, no NAT between the slices
        assert a.source_seen_by(b, "192.168.2.2") == "192.168.1.2"
        assert a.probe("192.168.2.2", "tcp", 80).result == "ok"
        routes = h1.sh("ip route show proto 251").stdout
        assert "192.168.2.0/24 via 192.168.2.1 dev fo-" in routes, routes
        assert "192.168.0.0/22 dev fo-" in routes, routes
        assert ovs_running(h1) and ovs_running(h2)
    finally:
        h1.fab("rm", "-f", "a")
        h2.fab("rm", "-f", "b")
        for h in (h1, h2):
            h.fab("network", "rm", "obr")
    for h in (h1, h2):
        assert not ovs_running(h) and not os.path.exists(ovs_dir(h))
        # the underlay NIC has its address back
        assert "192.168.18.1" in h.sh("ip -4 addr show dev eth0").stdout
    assert seen_source(lab.hosts["h2"].netns, lab.hosts["h1"].netns, "192.168.18.12",
                       7001) == "192.168.18.11"
