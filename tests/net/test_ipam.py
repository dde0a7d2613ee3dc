"""IPAM rules (pure) and allocations persisted in the store."""

import threading

import pytest

from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.network import ipam
from fabric.network.allocator import LocalAllocator
from fabric.network.driver import DriverRegistry
from fabric.network.ipam import InUse
from fabric.network.store import NetworkStore
from fabric.store.db import Store


def test_defaults_avoid_docker_and_what_is_in_use():
    assert ipam.DEFAULT_BRIDGE_SUBNET == "10.88.0.0/16"
    first = ipam.build()
    assert first.subnet == "10.90.0.0/24" and first.gateway == "10.90.0.1"
    nxt = ipam.build(in_use=[InUse("10.90.0.0/23", "host route on eth1")])
    assert nxt.subnet == "10.90.2.0/24"
    for pool in ipam.DEFAULT_POOLS:
        assert not ipam.overlaps(ipam.parse_subnet(pool.base),
                                 ipam.parse_subnet("172.16.0.0/12"))


@pytest.mark.parametrize("args,err,msg", [
    (("10.1.0.3/24",), InvalidArgument, "it should be 10.1.0.0/24"),
    (("10.1.0.0/24", "10.2.0.1"), InvalidArgument, "gateway 10.2.0.1 is outside subnet"),
    (("10.1.0.0/24", "10.1.0.255"), InvalidArgument, "network or broadcast"),
    (("10.1.0.0/24", None, "10.2.0.0/25"), InvalidArgument, "not inside subnet"),
    (("nonsense",), InvalidArgument, "invalid subnet"),
    (("10.1.0.0/31",), InvalidArgument, "too small"),
    ((None, "10.1.0.1"), InvalidArgument, "need --subnet"),
    (("fd00::/64",), InvalidArgument, "only IPv4"),
])
def test_bad_ipam_input(args, err, msg):
    with pytest.raises(err) as e:
        ipam.build(*args)
    assert msg in str(e.value)


def test_overlapping_subnet_names_the_other_network():
    with pytest.raises(Conflict) as e:
        ipam.build("10.88.3.0/24", in_use=[InUse("10.88.0.0/16", "network bridge")])
    assert str(e.value) == "subnet 10.88.3.0/24 overlaps with network bridge (10.88.0.0/16)"


def test_allocation_gateway_range_static_and_in_use():
    cfg = ipam.build("10.1.0.0/24", ip_range="10.1.0.128/30")
    assert ipam.allocate(cfg, []) == "10.1.0.128/24"
    assert ipam.allocate(cfg, ["10.1.0.128/24", "10.1.0.129/24"]) == "10.1.0.130/24"
    with pytest.raises(Conflict, match="no free address left in 10.1.0.128/30"):
        ipam.allocate(cfg, [f"10.1.0.{i}/24" for i in range(128, 132)])
    assert ipam.allocate(cfg, [], "10.1.0.7") == "10.1.0.7/24"   # --ip outside the range
    with pytest.raises(Conflict, match="address 10.1.0.7 is already in use on network n"):
        ipam.allocate(cfg, ["10.1.0.7/24"], "10.1.0.7", network_name="n")
    with pytest.raises(Conflict, match="address 10.1.0.1 is the gateway of subnet "
                                       "10.1.0.0/24"):
        ipam.allocate(cfg, [], "10.1.0.1")
    with pytest.raises(InvalidArgument, match="outside subnet"):
        ipam.allocate(cfg, [], "10.9.0.7")


@pytest.mark.parametrize("ip,what", [("10.1.0.255", "broadcast"), ("10.1.0.0", "network")])
def test_the_broadcast_and_network_address_are_named(ip, what):
    cfg = ipam.build("10.1.0.0/24")
    with pytest.raises(InvalidArgument) as e:
        ipam.allocate(cfg, [], ip, network_name="n")
    assert str(e.value) == f"address {ip} is the {what} address of subnet 10.1.0.0/24 " \
                           "on network n"


@pytest.mark.parametrize("subnet,what", [
    ("224.0.0.0/24", "224.0.0.0/4 (multicast)"),
    ("239.1.0.0/16", "224.0.0.0/4 (multicast)"),
    ("127.0.0.0/24", "127.0.0.0/8 (loopback)"),
    ("0.0.0.0/8", "0.0.0.0/8 (this network)"),
    ("0.0.0.0/0", "0.0.0.0/8 (this network)"),
    ("169.254.0.0/16", "169.254.0.0/16 (link-local)"),
    ("240.0.0.0/4", "240.0.0.0/4 (reserved)"),
    ("255.255.255.0/24", "240.0.0.0/4 (reserved)"),
])
def test_unusable_ranges_are_refused(subnet, what):
    with pytest.raises(InvalidArgument) as e:
        ipam.build(subnet)
    assert str(e.value) == f"subnet {subnet} overlaps {what}: containers cannot use it"
    with pytest.raises(InvalidArgument, match="containers cannot use it"):
        ipam.from_bip(subnet.replace(".0/", ".1/", 1) if subnet != "0.0.0.0/0" else
                      "0.0.0.1/8")


def test_several_subnets_are_kept_and_checked_together():
    cfgs = ipam.build_all([{"Subnet": "10.1.0.0/24"},
                           {"Subnet": "10.2.0.0/24", "Gateway": "10.2.0.254"}])
    assert cfgs == [ipam.SubnetConfig("10.1.0.0/24", "10.1.0.1"),
                    ipam.SubnetConfig("10.2.0.0/24", "10.2.0.254")]
    with pytest.raises(InvalidArgument, match="multiple overlapping subnet configuration "
                                              "is not allowed: 10.1.0.0/16 and 10.1.2.0/24"):
        ipam.build_all([{"Subnet": "10.1.0.0/16"}, {"Subnet": "10.1.2.0/24"}])
    with pytest.raises(Conflict, match="10.2.0.0/24 overlaps with network x"):
        ipam.build_all([{"Subnet": "10.1.0.0/24"}, {"Subnet": "10.2.0.0/24"}],
                       in_use=[InUse("10.2.0.0/16", "network x")])
    # addresses come from the first subnet until it is full, then from the next; --ip
    # from the subnet that holds it
    small = ipam.build_all([{"Subnet": "10.1.0.0/30"}, {"Subnet": "10.2.0.0/24"}])
    assert ipam.allocate_in(small, []) == "10.1.0.2/30"
    assert ipam.allocate_in(small, ["10.1.0.2/30"]) == "10.2.0.2/24"
    assert ipam.allocate_in(small, [], "10.2.0.9") == "10.2.0.9/24"
    with pytest.raises(InvalidArgument, match="address 10.3.0.9 is outside subnets "
                                              "10.1.0.0/30, 10.2.0.0/24"):
        ipam.allocate_in(small, [], "10.3.0.9")


def test_bip_and_fixed_cidr_like_docker():
    cfg = ipam.from_bip("192.168.5.1/24", "192.168.5.128/25")
    assert cfg == ipam.SubnetConfig("192.168.5.0/24", "192.168.5.1", "192.168.5.128/25")
    with pytest.raises(InvalidArgument):
        ipam.from_bip("192.168.5.1")


def test_mac_from_ip_like_docker():
    assert ipam.mac_from_ip("172.17.0.2") == "02:42:ac:11:00:02"
    assert ipam.parse_mac("02-42-AC-11-00-02") == "02:42:ac:11:00:02"
    with pytest.raises(InvalidArgument):
        ipam.parse_mac("01:00:5e:00:00:01")


# --- persisted ---------------------------------------------------------------------

def _net(name, subnet, nid):
    return {"id": nid * 64, "name": name, "driver": "bridge", "created": 1.0,
            "ipam": [{"subnet": subnet, "gateway": subnet.rsplit(".", 1)[0] + ".1"}]}


@pytest.fixture
def nstore(tmp_path):
    return NetworkStore(Store(str(tmp_path / "fabric.db")))


def test_network_rows_names_and_overlaps(nstore):
    nstore.insert_network(_net("a", "10.1.0.0/24", "a"))
    with pytest.raises(Conflict, match="network with name a already exists"):
        nstore.insert_network(_net("a", "10.2.0.0/24", "b"))
    with pytest.raises(Conflict, match="overlaps with network a"):
        nstore.insert_network(_net("b", "10.1.0.0/16", "b"))
    assert nstore.get_network("aaaa")["name"] == "a"   # id prefix
    assert nstore.get_network("a")["id"] == "a" * 64
    with pytest.raises(NotFound):
        nstore.get_network("zzz")


def _ep(net, cid):
    def make(address):
        return {"id": cid + net["id"][:8], "network_id": net["id"], "container_id": cid,
                "container_name": "c" + cid, "address": address}
    return make


def _assign(nstore, net, cid, requested=None):
    """Through the allocator, as the network core asks for every address."""
    return LocalAllocator(nstore).assign(net, cid, requested, _ep(net, cid))


def test_concurrent_allocations_never_share_an_address(tmp_path):
    path = str(tmp_path / "fabric.db")
    NetworkStore(Store(path)).insert_network(_net("a", "10.1.0.0/24", "a"))
    got, errors = [], []

    def worker(i):
        try:
            ns = NetworkStore(Store(path))
            net = ns.get_network("a")
            got.append(_assign(ns, net, f"c{i:03d}")["address"])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(got)) == 20


def test_endpoints_block_network_removal(nstore):
    nstore.insert_network(_net("a", "10.1.0.0/24", "a"))
    net = nstore.get_network("a")
    ep = _assign(nstore, net, "x1", "10.1.0.9")
    assert ep["address"] == "10.1.0.9/24"
    assert LocalAllocator(nstore).preview(net, None) == "10.1.0.2/24"
    with pytest.raises(Conflict, match="already connected"):
        _assign(nstore, net, "x1")
    with pytest.raises(Conflict, match="already in use"):
        _assign(nstore, net, "x2", "10.1.0.9")
    with pytest.raises(Conflict, match="network a has active endpoints \\(cx1\\)"):
        nstore.delete_network(net["id"])
    nstore.delete_endpoint(ep["id"])
    nstore.delete_network(net["id"])
    assert nstore.list_networks() == []


# --- the driver registry -----------------------------------------------------------

def test_registry_from_entry_points_and_clear_errors():
    reg = DriverRegistry.from_entry_points()
    assert "bridge" in reg.names()
    drv = reg.get("bridge")
    assert drv.name == "bridge" and drv.scope == "local" and reg.get("bridge") is drv
    with pytest.raises(InvalidArgument,
                       match=r"unknown network driver 'nosuch' \(installed: .*bridge"):
        reg.get("nosuch")
    with pytest.raises(Conflict):
        reg.register("bridge", lambda: drv)


def test_registry_is_not_global():
    a, b = DriverRegistry(), DriverRegistry()
    a.register("x", lambda: None)
    assert "x" not in b
    with pytest.raises(InvalidArgument, match="does not implement"):
        a.get("x")
