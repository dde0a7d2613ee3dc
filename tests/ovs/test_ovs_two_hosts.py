"""The ovs driver across two real lab hosts, each running its own ovsdb-server and
ovs-vswitchd: the seed's GRE with a subnet per host plus host routes, the flat variant
over VXLAN, TCP across, and `network rm` leaving no OVS process, socket, database or
marked port behind."""

import os

import pytest
from multihost import MultiHost, seen_source, wait_until
from ovs_helpers import instance, ovs_processes, ports

from fabric.ovs import daemons
from fabric.probe import Probe, send


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


def test_flat_over_vxlan_one_subnet_across_hosts_and_tcp(lab):
    h1, h2 = lab.hosts["h1"], lab.hosts["h2"]
    for h in (h1, h2):
        h.fab("network", "create", "-d", "ovs", "-o", "flat=true", "-o", "tunnel=vxlan",
              "-o", "vni=4242", "--subnet", "10.61.0.0/16", "flat")
    a = h1.run("fa", "--network", "flat")
    b = h2.run("fb", "--network", "flat")
    try:
        # one subnet: each host hands out its slice (the slice's first address is a
        # host address of the /16), behind a gateway of its own
        assert a.ip("flat") == "10.61.0.2" and b.ip("flat") == "10.61.1.0"
        got, _ = wait_until(lambda: a.probe("10.61.1.0").result == "ok", 5.0)
        assert got
        tunnel = [p for p in ports(h1).values() if p["type"] == "vxlan"]
        assert len(tunnel) == 1 and tunnel[0]["options"] == {"remote_ip": "192.168.18.12",
                                                             "key": "4242"}
        assert tunnel[0]["external_ids"]["fabric-peer"] == f"{lab.name}.h2"
        # a megabyte over the tunnel: MTU and offloads right, or TCP would stall
        out = send(a.netns, Probe("tcp", "10.61.1.0", 9000, timeout=20, nbytes=1 << 20,
                                  sink_netns=b.netns))
        assert out.result == "ok", out.detail
        # the same VNI for another network on this host: one line, nothing made
        r = h1.fab("network", "create", "-d", "ovs", "-o", "vni=4242", "--subnet",
                   "10.63.0.0/16", "clash", check=False)
        assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
        assert "fabric-vni 4242 is taken" in r.stderr
        # an overlapping subnet: refused before anything is made
        r = h1.fab("network", "create", "-d", "ovs", "--subnet", "10.61.8.0/24", "lap",
                   check=False)
        assert r.returncode == 125 and "overlaps" in r.stderr, r.stderr
        assert "clash" not in h1.fab("network", "ls").stdout
        assert len([p for p in ports(h1) if p.startswith("fo-")]) == 1
    finally:
        h1.fab("rm", "-f", "fa")
        h2.fab("rm", "-f", "fb")
        for h in (h1, h2):
            h.fab("network", "rm", "flat")
    assert not ovs_running(h1)


def test_explain_shows_the_ovs_vsctl_commands(lab):
    h1 = lab.hosts["h1"]
    out = h1.fab("network", "create", "--dry-run", "-d", "ovs", "--subnet", "10.64.0.0/16",
                 "dry").stdout
    assert 'ovs-vswitchd "unix:$OVS_RUNDIR/db.sock"' in out, out
    assert "ovs-vsctl --may-exist add-br fo-" in out and "datapath_type=netdev" in out
    assert not ovs_running(h1)


def test_host_teardown_leaves_no_ovs_process_socket_or_database(lab):
    h3 = lab.add("h3", "192.168.18.13/24")
    rundir = os.path.join(h3.host.root.path, "ovs")
    try:
        h3.fab("network", "create", "-d", "ovs", "--subnet", "10.65.0.0/16", "gone")
        h3.run("g", "--network", "gone")
        assert instance(h3).running() and os.path.exists(os.path.join(rundir, "db.sock"))
        assert ovs_processes(rundir)
    finally:
        lab.remove("h3")
    assert ovs_processes(rundir) == [] and not os.path.exists(rundir)


def test_without_open_vswitch_one_clear_line_and_nothing_made(tmp_path, monkeypatch):
    from fabric.cluster.connect import connect
    from fabric.errors import InvalidArgument
    from fabric.network import settings
    from fabric.network.context import HostContext
    from fabric.network.core import NetworkCore
    from fabric.network.driver import DriverRegistry
    from fabric.paths import HostRoot
    from fabric.store.db import Store

    monkeypatch.setenv("PATH", str(tmp_path))     # no ovsdb-server, no ovs-vswitchd
    cluster = connect(f"sqlite://{tmp_path}/cluster.db")
    root = HostRoot(str(tmp_path / "root"))
    root.ensure()
    host = HostContext.load(root, DriverRegistry.from_entry_points(), cluster=cluster)
    core = NetworkCore(host, Store(root.db), settings.Settings())
    with pytest.raises(InvalidArgument) as e:
        core.networks.create("o", "ovs", ipam_config=[{"Subnet": "10.66.0.0/16"}])
    assert str(e.value) == ("network driver 'ovs': Open vSwitch is not installed "
                            "(ovsdb-server, ovs-vswitchd and ovsdb-tool must be on PATH; "
                            "Debian: apt install openvswitch-switch)")
    assert cluster.networks.list_networks() == [] and core.svc.list_networks() == []
    assert not os.path.exists(os.path.join(root.path, "ovs"))
