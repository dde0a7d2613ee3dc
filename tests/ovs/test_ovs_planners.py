"""The ovs driver's plans as data: the ovs-vsctl and ip commands they stand for, no root
and no OVS needed."""

import pytest

from fabric.errors import InvalidArgument
from fabric.network.model import Endpoint, Network, Peer, SubnetConfig
from fabric_plugins.ovs import OvsDriver

NID = "ab" * 32


def net(**opts) -> Network:
    d = OvsDriver()
    return Network(id=NID, name="obr", driver="ovs", config=d.validate(opts),
                   ipam=(SubnetConfig("192.168.1.0/24", "192.168.1.1"),),
                   span=("192.168.0.0/22",))


def test_options_are_checked_before_anything():
    d = OvsDriver()
    assert d.validate({"tunnel": "vxlan", "vni": "7", "flat": "true"}).tunnel == "vxlan"
    for opts, msg in (({"tunnel": "ipip"}, "not a tunnel type"), ({"vni": "0"}, "outside"),
                      ({"bogus": "1"}, "unknown ovs driver option 'bogus'")):
        with pytest.raises(InvalidArgument, match=msg):
            d.validate(opts)


def test_a_subnet_per_host_or_one_across_them():
    d = OvsDriver()
    whole = SubnetConfig("10.61.0.0/16", "10.61.0.1")
    assert d.host_ipam(d.validate({}), whole, "10.61.1.0/24") == \
        SubnetConfig("10.61.1.0/24", "10.61.1.1")
    assert d.host_ipam(d.validate({"flat": "true"}), whole, "10.61.1.0/24") == \
        SubnetConfig("10.61.0.0/16", "10.61.1.1", "10.61.1.0/24")


def test_create_peer_and_join_as_commands():
    d, n = OvsDriver(), net()
    create = d.plan_create(n).describe()
    start = create[0].splitlines()      # the database made, then both daemons
    assert [w.split()[0] for w in start] == ["ovsdb-tool", "ovsdb-tool", "ovsdb-server",
                                             "ovs-vswitchd"]
    assert create[1].startswith("ovs-vsctl --may-exist add-br fo-ababababab -- set bridge")
    assert f"external_ids:fabric-network={NID}" in create[1]
    assert "ip route add 192.168.0.0/22 dev fo-ababababab proto 251" in create
    peer = d.plan_peer_join(n, Peer("h2", "192.168.2.0/24", "192.168.18.12")).describe()
    assert "type=gre options:remote_ip=192.168.18.12" in peer[1]
    assert "protected=true" in peer[1] and "external_ids:fabric-peer=h2" in peer[1]
    assert peer[2] == "ip route add 192.168.2.0/24 via 192.168.2.1 dev fo-ababababab proto 251"
    ep = Endpoint("e" * 64, NID, "c" * 64, "eth0", "192.168.1.2/24", "02:42:c0:a8:01:02",
                  gateway="192.168.1.1")
    join = d.plan_join(n, ep, "/run/netns/x").describe()
    assert any(line.startswith(f"ovs-vsctl --may-exist add-port fo-ababababab {ep.host_ifname}")
               for line in join)
    assert "ip netns exec x ethtool -K eth0 tx off tso off gso off" in join
    leave = d.plan_leave(n, ep, "/run/netns/x", sandbox_ending=True).describe()
    assert leave == [f"ovs-vsctl --if-exists del-port {ep.host_ifname}"]
    gone = d.plan_delete(n).describe()
    assert "ovs-vsctl --if-exists del-br fo-ababababab" in gone


def test_icc_false_protects_the_containers_ports_and_lets_the_gateway_answer():
    d, n = OvsDriver(), net(icc="false")
    assert "sysctl -w net/ipv4/conf/fo-ababababab/proxy_arp_pvlan=1" in \
        d.plan_create(n).describe()
    ep = Endpoint("e" * 64, NID, "c" * 64, "eth0", "192.168.1.2/24", "02:42:c0:a8:01:02")
    assert any("protected=true" in line for line in d.plan_join(n, ep, "/x").describe())
    facts = d.firewall_facts(n, ())
    assert facts.interfaces == ("fo-ababababab",) and not facts.bridged and not facts.icc
    assert facts.span == ("192.168.0.0/22",)
