"""The bridge driver end to end: real namespaces, real traffic, nothing left behind."""

import subprocess

import pytest
from net_helpers import make_endpoint, make_network, ping, root_only, snapshot

from fabric.errors import NotFound
from fabric.net import addrs, links, sysctl
from fabric.plan import Applier, Context
from fabric_plugins.bridge import BridgeDriver

pytestmark = root_only


def _run(host, p):
    with Context(host_ns=host) as ctx:
        return Applier(ctx).run(p)


def test_two_containers_talk_through_a_bridge_and_teardown_is_clean(make_ns):
    host, c1, c2 = make_ns("host"), make_ns("c1"), make_ns("c2")
    before = {ns: snapshot(ns) for ns in (host, c1, c2)}
    d = BridgeDriver()
    net = make_network(d, subnet="10.123.0.0/24", options={"mtu": "1400"})
    e1, e2 = make_endpoint(net, "10.123.0.2"), make_endpoint(net, "10.123.0.3")
    _run(host, d.plan_create(net))
    _run(host, d.plan_join(net, e1, f"/run/netns/{c1}"))
    _run(host, d.plan_join(net, e2, f"/run/netns/{c2}"))

    assert ping(c1, "10.123.0.3") and ping(c2, "10.123.0.2")
    assert ping(c1, "10.123.0.1")  # the gateway on the bridge, i.e. the host
    out = subprocess.run(["ip", "-n", c1, "-o", "link", "show", "eth0"],
                         capture_output=True, text=True).stdout
    assert "mtu 1400" in out and "02:42:0a:7b:00:02" in out
    assert sysctl.get("net.ipv4.ip_forward", host) == "1"

    # a repeated join or create is a no-op
    assert not _run(host, d.plan_join(net, e1, f"/run/netns/{c1}")).changed
    assert not _run(host, d.plan_create(net)).changed

    _run(host, d.plan_leave(net, e1, f"/run/netns/{c1}"))
    assert snapshot(c1) == before[c1]
    assert not ping(c2, "10.123.0.2")
    _run(host, d.plan_leave(net, e2, f"/run/netns/{c2}"))
    _run(host, d.plan_delete(net))
    after = snapshot(host)
    # ip_forward stays on, as Docker leaves it; everything else is as it was
    assert after["links"] == before[host]["links"]
    assert after["addrs"] == before[host]["addrs"]
    assert after["routes"] == before[host]["routes"]
    with Context(host_ns=host) as ctx:
        assert links.tagged(ctx.ipr(host)) == []
    # teardown is idempotent: already gone is success
    _run(host, d.plan_leave(net, e2, f"/run/netns/{c2}"))
    _run(host, d.plan_delete(net))


def test_two_networks_are_separate_layer2_domains(make_ns):
    host, a, b = make_ns("host"), make_ns("a"), make_ns("b")
    d = BridgeDriver()
    n1 = make_network(d, name="n1", subnet="10.124.0.0/24")
    n2 = make_network(d, name="n2", subnet="10.125.0.0/24", internal=True)
    ea, eb = make_endpoint(n1, "10.124.0.2"), make_endpoint(n2, "10.125.0.2")
    for net, ep, ns in ((n1, ea, a), (n2, eb, b)):
        _run(host, d.plan_create(net))
        _run(host, d.plan_join(net, ep, f"/run/netns/{ns}"))
    # the internal network's container has no default route, so no way out
    assert not ping(b, "10.124.0.2")
    for net, ep, ns in ((n1, ea, a), (n2, eb, b)):
        _run(host, d.plan_leave(net, ep, f"/run/netns/{ns}"))
        _run(host, d.plan_delete(net))


def test_container_on_two_networks_gets_eth0_and_eth1(make_ns):
    host, c = make_ns("host"), make_ns("c")
    d = BridgeDriver()
    n1 = make_network(d, name="n1", subnet="10.126.0.0/24")
    n2 = make_network(d, name="n2", subnet="10.127.0.0/24")
    e1 = make_endpoint(n1, "10.126.0.2", ifname="eth0")
    e2 = make_endpoint(n2, "10.127.0.2", ifname="eth1")
    e2 = type(e2)(**{**e2.__dict__, "gateway": None})  # one default route only
    for net, ep in ((n1, e1), (n2, e2)):
        _run(host, d.plan_create(net))
        _run(host, d.plan_join(net, ep, f"/run/netns/{c}"))
    with Context(host_ns=host) as ctx:
        cipr = ctx.ipr(c)
        assert addrs.has(cipr, "eth0", "10.126.0.2/24")
        assert addrs.has(cipr, "eth1", "10.127.0.2/24")
    assert ping(c, "10.126.0.1") and ping(c, "10.127.0.1")
    for net, ep in ((n1, e1), (n2, e2)):
        _run(host, d.plan_leave(net, ep, f"/run/netns/{c}"))
        _run(host, d.plan_delete(net))


def test_existing_bridge_made_by_hand_is_used_and_kept(make_ns, uid):
    host, c = make_ns("host"), make_ns("c")
    br = f"br{uid}"
    subprocess.run(["ip", "-n", host, "link", "add", br, "type", "bridge"], check=True)
    before = snapshot(host)
    d = BridgeDriver()
    net = make_network(d, subnet="10.128.0.0/24",
                       options={"bridge.name": br, "bridge.existing": "true"})
    ep = make_endpoint(net, "10.128.0.2")
    _run(host, d.plan_create(net))
    _run(host, d.plan_join(net, ep, f"/run/netns/{c}"))
    assert ping(c, "10.128.0.1")
    _run(host, d.plan_leave(net, ep, f"/run/netns/{c}"))
    _run(host, d.plan_delete(net))
    after = snapshot(host)
    # only the IPv6 link-local address that comes with bringing a bridge up
    assert [a for a in after["addrs"] if not a[1].startswith("fe80:")] == before["addrs"]
    # the bridge is still there, untouched apart from being brought up
    assert [name for name, *_ in after["links"]] == [name for name, *_ in before["links"]]
    assert sysctl.get(sysctl.conf_key(br, "route_localnet"), host) == "0"


def test_missing_existing_bridge_is_a_clear_error_and_leaves_nothing(make_ns, uid):
    host = make_ns("host")
    before = snapshot(host)
    d = BridgeDriver()
    net = make_network(d, options={"bridge.name": f"br{uid}", "bridge.existing": "1"})
    with pytest.raises(NotFound) as e:
        _run(host, d.plan_create(net))
    assert f"bridge br{uid} does not exist" in str(e.value)
    assert snapshot(host) == before


def test_user_named_bridge_is_created_and_removed(make_ns, uid):
    host = make_ns("host")
    before = snapshot(host)
    d = BridgeDriver()
    net = make_network(d, options={"bridge.name": f"br{uid}"})
    _run(host, d.plan_create(net))
    with Context(host_ns=host) as ctx:
        assert links.get(ctx.ipr(host), f"br{uid}").alias == net.tag
    _run(host, d.plan_delete(net))
    assert snapshot(host)["links"] == before["links"]
