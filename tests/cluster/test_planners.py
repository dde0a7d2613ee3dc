"""The multi-host drivers' planners, slices and settings as data: no kernel, no store.

What a host does for a peer, a slice, an uplink or a routed subnet is a plan or a
fact; these tests read them as the shell commands `--explain` shows."""

import pytest

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall import iptables, nftrender
from fabric.firewall.intent import FirewallFacts, FirewallIntent, NetworkIntent
from fabric.firewall.ruleset import Prefix
from fabric.network import settings as settingsmod
from fabric.network import slicing
from fabric.network.driver import DriverRegistry, SpansHosts, Uplinks
from fabric.network.model import Network, Peer, SubnetConfig, Uplink, UplinkRoute
from fabric_plugins.bridge import BridgeDriver
from fabric_plugins.routing import RoutingDriver

NET_ID = "4f1e2d3c4b" + "0" * 54
H2 = Peer("lab.h2", "10.40.1.0/24", "192.168.18.12")


def routing_net(opts: dict | None = None, peers=(H2,)) -> Network:
    drv = RoutingDriver()
    whole = SubnetConfig("10.40.0.0/16", "10.40.0.1")
    cfg = drv.validate(opts or {})
    return Network(id=NET_ID, name="cnet", driver="routing", config=cfg,
                   ipam=(drv.host_ipam(cfg, whole, "10.40.0.0/24"),),
                   span=("10.40.0.0/16",), peers=tuple(peers))


def test_the_routing_driver_is_installed_global_and_needs_a_cluster_and_an_underlay():
    drv = DriverRegistry.from_entry_points().get("routing")
    assert (drv.scope, drv.requires) == ("global", {"cluster-store", "underlay"})
    assert isinstance(drv, SpansHosts) and not isinstance(drv, Uplinks)
    assert isinstance(BridgeDriver(), SpansHosts) and isinstance(BridgeDriver(), Uplinks)


def test_routing_hands_out_the_slice_behind_a_gateway_of_its_own():
    net = routing_net()
    assert net.ipam == (SubnetConfig("10.40.0.0/24", "10.40.0.1"),)
    assert RoutingDriver().plan_create(net).describe() == [
        f"ip link add fab-{NET_ID[:10]} address 06:4f:1e:2d:3c:4b type bridge\n"
        f"ip link set dev fab-{NET_ID[:10]} alias fabric:{NET_ID[:12]}",
        f"ip addr add 10.40.0.1/24 dev fab-{NET_ID[:10]}",
        f"ip link set dev fab-{NET_ID[:10]} up",
        "sysctl -w net.ipv4.ip_forward=1",
        f"sysctl -w net/ipv4/conf/fab-{NET_ID[:10]}/route_localnet=1"]


def test_routing_routes_to_each_peer_s_slice_via_its_underlay_tagged_as_fabric_s():
    drv, net = RoutingDriver(), routing_net()
    assert drv.plan_peer_join(net, H2).describe() == [
        "ip route add 10.40.1.0/24 via 192.168.18.12 proto 251"]
    # removal matches fabric's protocol too: a user's route to the same place stays
    assert drv.plan_peer_leave(net, H2).describe() == [
        "ip route del 10.40.1.0/24 via 192.168.18.12 proto 251"]
    assert drv.plan_peer_leave(net, H2).best_effort


def test_routing_facts_forward_the_whole_subnet_and_the_peers_without_nat():
    facts = RoutingDriver().firewall_facts(routing_net(), ())
    assert facts.interfaces == (f"fab-{NET_ID[:10]}",) and facts.bridged
    assert facts.unnatted == ("10.40.0.0/16", "192.168.18.12/32")
    assert facts.span == ("10.40.0.0/16",) and facts.icc and facts.masquerade
    assert not RoutingDriver().firewall_facts(routing_net({"icc": "false"}), ()).icc


def test_routing_options():
    with pytest.raises(InvalidArgument, match="unknown routing driver option 'bridge.name'"):
        RoutingDriver().validate({"bridge.name": "br0"})
    assert RoutingDriver().validate({"mtu": "1400"}).bridge.mtu == 1400


def test_icc_false_across_hosts_is_a_set_element_and_an_iptables_rule():
    facts = RoutingDriver().firewall_facts(routing_net({"icc": "false"}), ())
    intent = FirewallIntent(networks=(NetworkIntent(NET_ID, "cnet", facts, ("10.40.0.0/24",),
                                                    ("10.40.0.1",)),))
    rs = nftrender.render(intent)
    br = f"fab-{NET_ID[:10]}"
    assert rs.elements[("inet", "span_deny")] == {(br, Prefix("10.40.0.0", 16))}
    assert (Prefix("10.40.0.0", 24), Prefix("192.168.18.12", 32)) in \
        rs.elements[("inet", "unnat")]
    flt = iptables.render(intent)["filter"]
    deny = flt.index(f"-A FABRIC-FORWARD -s 10.40.0.0/16 -o {br} -j DROP")
    assert deny < flt.index(f"-A FABRIC-FORWARD -s 10.40.0.0/16 -d 10.40.0.0/24 -o {br} "
                            "-j ACCEPT")
    icc_on = RoutingDriver().firewall_facts(routing_net(), ())
    rs = nftrender.render(FirewallIntent(networks=(NetworkIntent(
        NET_ID, "cnet", icc_on, ("10.40.0.0/24",), ("10.40.0.1",)),)))
    assert rs.elements[("inet", "span_deny")] == frozenset()


# --- the bridge's uplink ------------------------------------------------------------------

UP = Uplink("eth0", "06:aa:bb:cc:dd:01", ("192.168.18.11/24",),
            (UplinkRoute("default", "192.168.18.1", None, 3),
             UplinkRoute("10.77.0.0/16", "192.168.18.99", 100, 251)))


def uplink_net() -> Network:
    drv = BridgeDriver()
    cfg = drv.validate({"uplink": "eth0"})
    whole = SubnetConfig("192.168.18.0/24", "192.168.18.1")
    return Network(id=NET_ID, name="lan", driver="bridge", config=cfg,
                   ipam=(drv.host_ipam(cfg, whole, "192.168.18.64/27"),),
                   span=("192.168.18.0/24",), uplink=UP)


def test_an_uplink_moves_the_nic_s_addresses_and_routes_to_the_bridge():
    net = uplink_net()
    assert net.ipam == (SubnetConfig("192.168.18.0/24", "192.168.18.1", "192.168.18.64/27"),)
    br = f"fab-{NET_ID[:10]}"
    lines = BridgeDriver().plan_create(net).describe()
    # the NIC's MAC (a lab-wide network has one id on every host); no gateway address:
    # on a LAN that is the router's
    assert lines[:11] == [
        f"ip link add {br} address 06:aa:bb:cc:dd:01 type bridge\n"
        f"ip link set dev {br} alias fabric:{NET_ID[:12]}",
        f"ip link set dev {br} up",
        "ip route del default via 192.168.18.1 dev eth0 proto 3",
        "ip route del 10.77.0.0/16 via 192.168.18.99 dev eth0 proto 251",
        "ip addr del 192.168.18.11/24 dev eth0",
        f"ip link set dev eth0 master {br}",
        "ip link set dev eth0 up",
        f"ip addr add 192.168.18.11/24 dev {br}",
        f"ip route add default via 192.168.18.1 dev {br} proto 3",
        f"ip route add 10.77.0.0/16 via 192.168.18.99 dev {br} metric 100 proto 251",
        f"ip link set dev {br} up"]
    assert not any("192.168.18.1/24" in line for line in lines)


def test_removing_an_uplinked_network_gives_the_nic_its_own_back():
    br = f"fab-{NET_ID[:10]}"
    assert BridgeDriver().plan_delete(uplink_net()).describe()[-6:] == [
        f"ip link del dev {br}",
        "ip link set dev eth0 nomaster",
        "ip link set dev eth0 up",
        "ip addr add 192.168.18.11/24 dev eth0",
        "ip route add default via 192.168.18.1 dev eth0 proto 3",
        "ip route add 10.77.0.0/16 via 192.168.18.99 dev eth0 metric 100 proto 251"]


def test_bridge_options_for_uplinks_and_routed_subnets():
    drv = BridgeDriver()
    assert drv.spans_hosts(drv.validate({"uplink": "eth0"}))
    assert not drv.spans_hosts(drv.validate({}))
    with pytest.raises(InvalidArgument, match="cannot take over an existing one"):
        drv.validate({"uplink": "eth0", "bridge.name": "br0", "bridge.existing": "true"})
    with pytest.raises(InvalidArgument, match="invalid interface name"):
        drv.validate({"uplink": "eth0 up"})
    cfg = drv.validate({"routed_subnets": "172.18.0.0/16, 192.168.18.0/24"})
    net = Network(id=NET_ID, name="bridge", driver="bridge", config=cfg)
    assert drv.firewall_facts(net, ()) == FirewallFacts(
        (f"fab-{NET_ID[:10]}",), unnatted=("172.18.0.0/16", "192.168.18.0/24"))
    with pytest.raises(InvalidArgument, match="it should be 172.18.0.0/16"):
        drv.validate({"routed_subnets": "172.18.42.1/16"})


# --- slices and settings ------------------------------------------------------------------

def test_slices_lowest_free_block_or_pinned():
    assert slicing.choose("10.40.0.0/16", 24, []) == "10.40.0.0/24"
    assert slicing.choose("10.40.0.0/16", 24, ["10.40.0.0/24", "10.40.2.0/24"]) == \
        "10.40.1.0/24"
    assert slicing.choose("10.40.0.0/16", 24, ["10.40.0.0/23"]) == "10.40.2.0/24"
    assert slicing.choose("10.40.0.0/16", 24, ["10.40.0.0/24"], "10.40.9.0/24") == \
        "10.40.9.0/24"
    with pytest.raises(Conflict, match="overlaps another host's slice 10.40.8.0/21"):
        slicing.choose("10.40.0.0/16", 24, ["10.40.8.0/21"], "10.40.9.0/24")
    with pytest.raises(Conflict, match="no /25 slice left"):
        slicing.choose("10.40.0.0/24", 25, ["10.40.0.0/25", "10.40.0.128/25"])
    assert slicing.host_prefix(None, "10.40.0.0/16") == 24
    assert slicing.host_prefix(None, "10.40.0.0/26") == 26
    with pytest.raises(InvalidArgument, match="/8 does not fit in 10.40.0.0/16"):
        slicing.host_prefix("8", "10.40.0.0/16")
    with pytest.raises(InvalidArgument, match="expected a prefix length"):
        slicing.host_prefix("big", "10.40.0.0/16")
    with pytest.raises(InvalidArgument, match="slice 10.41.0.0/24 is outside subnet"):
        slicing.pinned("10.41.0.0/24", "10.40.0.0/16")


def test_settings_for_routed_subnets_and_the_cluster():
    s = settingsmod.parse({"routed-subnets": ["172.18.0.0/16", "192.168.18.0/24"],
                           "cluster-store": "sqlite:///var/lib/fabric-labs/l/cluster.db",
                           "cluster-advertise": "192.168.18.128:2376"})
    assert s.routed_subnets == ("172.18.0.0/16", "192.168.18.0/24")
    assert s.cluster_advertise == "192.168.18.128"
    assert settingsmod.parse({"routed-subnets": "172.18.0.0/16,10.1.0.0/16"}
                             ).routed_subnets == ("172.18.0.0/16", "10.1.0.0/16")
    with pytest.raises(InvalidArgument, match="routed-subnets entry"):
        settingsmod.parse({"routed-subnets": "172.18.0.0"})
    with pytest.raises(InvalidArgument, match="is not a store fabric knows"):
        settingsmod.parse({"cluster-store": "consul://x:8500"})
    with pytest.raises(InvalidArgument, match="cluster-advertise address"):
        settingsmod.parse({"cluster-advertise": "eth0"})
