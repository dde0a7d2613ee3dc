"""The mesh driver's plans, the endpoint registry's records and the firewall's view of a
tunnel, as data: no root, no kernel."""

import dataclasses

import pytest

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall import iptables, nftrender, validate
from fabric.firewall.intent import EndpointIntent, FirewallFacts, FirewallIntent, NetworkIntent
from fabric.network import registry
from fabric.network.model import Endpoint, Network, RemoteEndpoint, SubnetConfig, Underlay
from fabric_plugins.mesh import MeshDriver

NID = "ab" * 32
DRV = MeshDriver()


def net(**opts) -> Network:
    return Network(id=NID, name="mesh", driver="mesh", config=DRV.validate(opts),
                   ipam=(SubnetConfig("10.32.0.0/12", "10.32.0.1"),), tunnel_id=4096,
                   underlay=Underlay("192.168.18.11", "eth0", 1500))


B = RemoteEndpoint(id="e" * 64, host="lab.h2", container="c" * 64, name="b",
                   address="10.32.1.10/12", mac="02:42:0a:20:01:0a", vtep="192.168.18.12",
                   vtep_mac="0e:00:00:00:00:02", aliases=("bee",))


def test_a_network_is_a_bridge_with_a_vxlan_port_learning_off_arp_proxied_mtu_less_50():
    lines = "\n".join(DRV.plan_create(net()).describe()).splitlines()
    assert "ip link add fab-ababababab address 06:ab:ab:ab:ab:ab mtu 1450 type bridge" in lines
    vx = lines.index(
        f"ip link add fvx-ababababab address {DRV.vtep_mac(net())} mtu 1450 type vxlan id 4096 "
        "dstport 4789 local 192.168.18.11 dev eth0 nolearning proxy")
    assert lines[vx + 1] == "ip link set dev fvx-ababababab alias fabric:abababababab"
    assert "ip link set dev fvx-ababababab master fab-ababababab" in lines
    assert "ip addr add 10.32.0.1/12 dev fab-ababababab" in lines
    # a container's veth has the tunnel's MTU too
    ep = Endpoint("f" * 64, NID, "d" * 64, "eth0", "10.32.0.2/12", "02:42:0a:20:00:02",
                  gateway="10.32.0.1")
    join = DRV.plan_join(net(), ep, "/run/netns/x").describe()
    assert "mtu 1450 type veth peer name eth0 address 02:42:0a:20:00:02 mtu 1450" in join[0]
    # ARP in the container retries every 100 ms: a container published a moment after
    # it was first asked for is reached at once
    assert join[-1] == "ip netns exec x sysctl -w net/ipv4/neigh/eth0/retrans_time_ms=100"
    # -o mtu= chooses another; a network with no underlay recorded cannot be made
    assert "mtu 1400 type vxlan" in "\n".join(DRV.plan_create(net(mtu="1400")).describe())
    with pytest.raises(InvalidArgument, match="no underlay or VNI"):
        DRV.plan_create(dataclasses.replace(net(), underlay=None))
    assert [x for x in DRV.plan_delete(net()).describe()][:1] == ["ip link del dev fvx-ababababab"]


def test_a_remote_container_is_one_static_fdb_entry_and_one_permanent_neighbour():
    assert DRV.plan_remote_join(net(), B).describe() == [
        "bridge fdb append 02:42:0a:20:01:0a dev fvx-ababababab dst 192.168.18.12 self static",
        "ip neigh replace 10.32.1.10 lladdr 02:42:0a:20:01:0a dev fvx-ababababab nud permanent"]
    leave = DRV.plan_remote_leave(net(), B)
    assert leave.best_effort and leave.describe() == [
        "ip neigh del 10.32.1.10 dev fvx-ababababab",
        "bridge fdb del 02:42:0a:20:01:0a dev fvx-ababababab dst 192.168.18.12 self"]


def test_options_vni_and_the_vtep_mac():
    assert DRV.validate({"vni": "5000"}).vni == 5000
    assert DRV.tunnel_id(DRV.validate({})) is None and 4096 in DRV.tunnel_ids()
    for bad, why in (({"vni": "0"}, "outside 1..16777215"), ({"vni": "x"}, "expected a number"),
                     ({"slice": "10.0.0.0/24"}, "unknown mesh driver option 'slice'")):
        with pytest.raises(InvalidArgument, match=why):
            DRV.validate(bad)
    mac = DRV.vtep_mac(net())
    assert mac.startswith("0e:") and mac == DRV.vtep_mac(net())   # stable for a host
    other = dataclasses.replace(net(), underlay=Underlay("192.168.18.12", "eth0", 1500))
    assert DRV.vtep_mac(other) != mac                              # one per host
    facts = DRV.firewall_facts(net(icc="false"), ())
    assert facts.tunnel == "fvx-ababababab" and facts.interfaces == ("fab-ababababab",)
    assert not facts.icc


def test_registry_entries_round_trip_and_a_bare_lease_is_no_endpoint():
    rec = {"id": B.id, "container_id": B.container, "container_name": "b", "aliases": ["bee"],
           "address": B.address, "mac": B.mac}
    entry = registry.entry("lab.h2", rec, B.vtep, B.vtep_mac)
    assert registry.remote(entry) == B
    assert registry.same(entry, {**entry, "since": 0}) and \
        not registry.same(entry, {**entry, "vtep": {"address": "192.168.18.99"}})
    assert registry.remote({"host": "h1", "container": "x"}) is None
    kept = registry.programmed_record(B, "/fabric/leases/n/10.32.1.10", 7, 1.0)
    assert registry.programmed({"shared": {"remote": [kept]}}) == [B]


def _intent(icc: bool, remote: tuple[EndpointIntent, ...]) -> FirewallIntent:
    facts = DRV.firewall_facts(net(icc=str(icc).lower()), ())
    n = NetworkIntent(NID, "mesh", facts, ("10.32.0.0/12",), ("10.32.0.1",))
    local = EndpointIntent(NID, "d" * 64, "fv00000000001", "10.32.0.2", "02:42:0a:20:00:02")
    return FirewallIntent(networks=(n,), endpoints=(local, *remote))


REMOTE = (EndpointIntent(NID, "c" * 64, "fvx-ababababab", "10.32.1.10", "02:42:0a:20:01:0a"),
          EndpointIntent(NID, "9" * 64, "fvx-ababababab", "10.32.1.11", "02:42:0a:20:01:0b"))


def test_the_tunnel_is_a_checked_port_for_every_remote_endpoint_and_held_to_icc():
    el = nftrender.render(_intent(False, REMOTE)).elements
    assert "fvx-ababababab" in el[("bridge", "ports")]
    assert ("fvx-ababababab", "02:42:0a:20:01:0b", "10.32.1.11") in el[("bridge", "port_ip")]
    assert {"fvx-ababababab", "fv00000000001"} <= el[("bridge", "icc_deny")]
    # with none listed the tunnel is still a checked port: nothing gets in through it
    el = nftrender.render(_intent(True, ())).elements
    assert "fvx-ababababab" in el[("bridge", "ports")]
    assert not any(p == "fvx-ababababab" for p, *_ in el[("bridge", "port_mac")])
    assert not el[("bridge", "icc_deny")]
    # many endpoints may share the tunnel, but a local endpoint may not sit on it
    validate.intent(_intent(True, REMOTE))
    good = _intent(True, REMOTE)
    other = NetworkIntent("other", "other", FirewallFacts(("br-other",)), ("10.1.0.0/16",),
                          ("10.1.0.1",))
    squatter = EndpointIntent("other", "c" * 64, "fvx-ababababab", "10.1.1.1",
                              "02:42:0a:01:01:01")
    bad = dataclasses.replace(good, networks=good.networks + (other,),
                              endpoints=good.endpoints + (squatter,))
    with pytest.raises(Conflict, match="fvx-ababababab belongs to another endpoint"):
        validate.intent(bad)


def test_iptables_lets_each_remote_pair_through_the_tunnel_and_drops_the_rest():
    raw = iptables.render(_intent(True, REMOTE))["raw"]
    dev = "-m physdev --physdev-in fvx-ababababab"
    assert f"-A FABRIC-ANTISPOOF {dev} -s 10.32.1.10/32 -m mac --mac-source " \
           "02:42:0a:20:01:0a -j RETURN" in raw
    assert raw[-1] == f"-A FABRIC-ANTISPOOF {dev} -j DROP"
