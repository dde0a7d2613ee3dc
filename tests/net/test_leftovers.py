"""A new root on a host where an earlier root left its default bridge, and a default
bridge that cannot come up: what a user sees, through the CLI, on a lab host."""

import json


def test_a_new_root_adopts_the_default_bridge_an_earlier_root_left(host, make_ns):
    # what a removed root leaves: fabric0 with fabric's tag and the gateway address, and
    # one of its containers' veths still on it, holding 10.88.0.2 in a namespace
    old = make_ns("old")
    host.sh("ip link add fabric0 type bridge && ip link set fabric0 alias fabric:0123456789ab"
            " && ip addr add 10.88.0.1/16 dev fabric0 && ip link set fabric0 up"
            " && ip link add fv0ldc0ntaine type veth peer name oldeth0"
            " && ip link set fv0ldc0ntaine alias fabric:0123456789ab:aaaaaaaaaaaa"
            " && ip link set fv0ldc0ntaine master fabric0 up"
            f" && ip link set oldeth0 netns {old}")
    out = host.fab("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0").out
    assert "inet 10.88.0.2/16" in out
    net = json.loads(host.fab("network", "inspect", "bridge").out)[0]
    assert net["Id"].startswith("0123456789ab")
    assert net["IPAM"]["Config"] == [{"Subnet": "10.88.0.0/16", "Gateway": "10.88.0.1"}]
    links = host.sh("ip -o link show").out
    assert "fv0ldc0ntaine" not in links      # its address would clash with new ones
    assert "fabric0" in links
    assert "subnet" not in open(f"{host.root}/daemon.log").read()


def test_a_default_bridge_that_cannot_come_up_says_why_wherever_it_is_used(host):
    host.sh("ip link add fbx0 type veth peer name fbx1 && ip addr add 10.88.5.1/24 dev fbx0"
            " && ip link set fbx0 up")
    why = ("network bridge is not available: subnet 10.88.0.0/16 overlaps with a host "
           "route on fbx0 (10.88.5.0/24)")
    host.fab("network", "create", "--subnet", "10.162.0.0/24", "other")
    host.fab("run", "-d", "--name", "c", "--network", "other", "busybox", "sleep", "600")
    for args in (["run", "--rm", "busybox", "true"],
                 ["create", "--network", "bridge", "busybox", "true"],
                 ["network", "inspect", "bridge"],
                 ["network", "connect", "bridge", "c"]):
        r = host.fab(*args, check=False)
        assert r.code == 125 and why in r.err and r.err.count("\n") == 1, (args, r)
    assert host.fab("ps", "-aq").out.split() == [host.inspect("c")["Id"][:12]]
    # once the clash is gone, the next use brings it up: no daemon restart
    host.sh("ip link del fbx0")
    assert "inet 10.88.0.2/16" in host.fab("run", "--rm", "busybox", "ip", "-o", "-4",
                                           "addr", "show", "eth0").out
    host.fab("rm", "-f", "c")
