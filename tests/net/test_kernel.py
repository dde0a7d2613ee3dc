"""The kernel layer against a real kernel, inside throwaway namespaces."""

import errno

import pytest
from net_helpers import ip_json, root_only
from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError

from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.net import addrs, links, neigh, netns, routes, rtnl, sysctl


def test_retry_is_bounded_and_only_for_transient_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise NetlinkError(errno.EBUSY)
        return "ok"

    assert rtnl.retry(flaky) == "ok" and len(calls) == 3

    def interrupted():
        calls.append(1)
        raise NetlinkDumpInterrupted()

    calls.clear()
    with pytest.raises(NetlinkDumpInterrupted):
        rtnl.retry(interrupted, attempts=3)
    assert len(calls) == 4  # three tries and the last one that propagates

    def fatal():
        calls.append(1)
        raise NetlinkError(errno.EPERM)

    calls.clear()
    with pytest.raises(NetlinkError):
        rtnl.retry(fatal)
    assert len(calls) == 1


def test_netns_names_and_paths():
    assert netns.path("c1") == "/run/netns/c1"
    assert netns.path("/proc/1/ns/net") == "/proc/1/ns/net"
    assert netns.name("/run/netns/c1") == "c1" and netns.name("/proc/1/ns/net") is None
    with pytest.raises(InvalidArgument):
        netns.path("a/b")


@root_only
def test_netns_create_remove(uid):
    name = f"fabt{uid}-x"
    try:
        netns.create(name)
        assert netns.exists(name) and name in netns.list_named()
        with pytest.raises(Conflict):
            netns.create(name)
    finally:
        assert netns.remove(name)
    assert not netns.exists(name) and not netns.remove(name)


@root_only
def test_missing_namespace_is_not_created_by_accident(uid):
    with pytest.raises(NotFound):
        rtnl.open_ns(f"fabt{uid}-missing")
    assert not netns.exists(f"fabt{uid}-missing")


@root_only
def test_sysctl_is_per_namespace(make_ns):
    a, b = make_ns("a"), make_ns("b")
    mine = sysctl.get("net.ipv4.ip_forward")
    # a new namespace copies IPv4 settings from the initial one, so flip whatever it has
    was = sysctl.get("net.ipv4.ip_forward", a)
    flipped = "0" if was == "1" else "1"
    assert sysctl.set("net.ipv4.ip_forward", flipped, a) == was
    assert sysctl.get("net.ipv4.ip_forward", a) == flipped
    assert sysctl.get("net.ipv4.ip_forward", b) == was
    assert sysctl.get("net.ipv4.ip_forward") == mine
    with pytest.raises(NotFound):
        sysctl.get(sysctl.conf_key("nosuchif", "forwarding"), a)


@root_only
def test_links_addresses_routes_neighbours_fdb(make_ns):
    h, c = make_ns("h"), make_ns("c")
    with rtnl.Session() as s:
        ipr, cipr = s(h), s(c)
        br = links.add_bridge(ipr, "br-t", mac="06:00:00:00:00:01", alias="fabric:t")
        assert br.kind == "bridge" and br.alias == "fabric:t"
        v = links.add_veth(ipr, "fv-t", "eth0", c, alias="fabric:t:e", mtu=1400,
                           peer_mac="02:42:0a:00:00:02")
        assert v.mtu == 1400
        with pytest.raises(Conflict):
            links.add_veth(ipr, "fv-t", "eth0", c)
        with pytest.raises(InvalidArgument):
            links.add_bridge(ipr, "x" * 16)
        peer = links.get(cipr, "eth0")
        assert peer is not None and peer.mac == "02:42:0a:00:00:02" and peer.mtu == 1400
        links.set_master(ipr, "fv-t", "br-t")
        links.set_up(ipr, "fv-t")
        links.set_up(ipr, "br-t")
        assert [m.name for m in links.members(ipr, links.get(ipr, "br-t"))] == ["fv-t"]
        assert {link.name for link in links.tagged(ipr)} == {"br-t", "fv-t"}
        assert addrs.add(ipr, "br-t", "10.9.0.1/24") and not addrs.add(ipr, "br-t", "10.9.0.1/24")
        assert addrs.add(cipr, "eth0", "10.9.0.2/24")
        links.set_up(cipr, "eth0")
        assert routes.add(cipr, "default", gateway="10.9.0.1", dev="eth0")
        assert not routes.add(cipr, "default", gateway="10.9.0.1", dev="eth0")
        got = [r for r in ip_json(c, "route", "show") if r["dst"] == "default"]
        assert got[0]["gateway"] == "10.9.0.1" and got[0]["protocol"] == "251"
        assert neigh.add_neighbour(ipr, "br-t", "10.9.0.9", "02:00:00:00:00:09")
        assert not neigh.add_neighbour(ipr, "br-t", "10.9.0.9", "02:00:00:00:00:09")
        assert neigh.add_fdb(ipr, "fv-t", "02:00:00:00:00:0a", master=True)
        assert not neigh.add_fdb(ipr, "fv-t", "02:00:00:00:00:0a", master=True)
        assert neigh.del_fdb(ipr, "fv-t", "02:00:00:00:00:0a", master=True)
        assert neigh.del_neighbour(ipr, "br-t", "10.9.0.9")
        assert routes.delete(cipr, "default", gateway="10.9.0.1", dev="eth0")
        assert not routes.delete(cipr, "default", gateway="10.9.0.1", dev="eth0")
        assert addrs.delete(ipr, "br-t", "10.9.0.1/24")
        assert not addrs.delete(ipr, "br-t", "10.9.0.1/24")
        links.set_hairpin(ipr, "fv-t")
        assert links.hairpin(ipr, "fv-t")
        assert links.delete(ipr, "fv-t") and not links.delete(ipr, "fv-t")
        assert links.get(cipr, "eth0") is None  # the peer went with it
        assert links.delete(ipr, "br-t")
        assert links.tagged(ipr) == []
