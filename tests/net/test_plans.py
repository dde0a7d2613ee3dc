"""Planners and plans as data: no root, no kernel."""

import pytest
from net_helpers import make_endpoint, make_network

from fabric.errors import InvalidArgument
from fabric.plan import (
    AddAddress,
    AddFdb,
    AddRoute,
    Applier,
    Context,
    CreateVeth,
    DeleteLink,
    EnsureBridge,
    LinkUp,
    NftBatch,
    Plan,
    SetMaster,
    SetSysctl,
    plan,
)
from fabric_plugins.bridge import BridgeConfig, BridgeDriver

NET_ID = "ab12cd34ef" + "0" * 54


def test_describe_in_host_and_in_named_and_path_namespaces():
    assert EnsureBridge("br9", tag="fabric:x", mtu=1400).describe() == (
        "ip link add br9 mtu 1400 type bridge\nip link set dev br9 alias fabric:x")
    assert AddAddress("eth0", "10.0.0.2/24", ns="c1").describe() == \
        "ip -n c1 addr add 10.0.0.2/24 dev eth0"
    assert AddAddress("eth0", "10.0.0.2/24", ns="/run/netns/c1").describe() == \
        "ip -n c1 addr add 10.0.0.2/24 dev eth0"
    assert AddAddress("eth0", "10.0.0.2/24", ns="/proc/42/ns/net").describe() == \
        "nsenter --net=/proc/42/ns/net ip addr add 10.0.0.2/24 dev eth0"
    assert SetSysctl("net.ipv4.ip_forward", "1", ns="h").describe() == \
        "ip netns exec h sysctl -w net.ipv4.ip_forward=1"
    assert AddFdb("vx0", "00:00:00:00:00:00", dst="192.0.2.2").describe() == \
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 192.0.2.2 self static"
    assert AddRoute("default", gateway="10.0.0.1", dev="eth0", ns="c").describe() == \
        "ip -n c route add default via 10.0.0.1 dev eth0 proto 251"
    assert NftBatch("add table inet fabric").describe() == \
        "nft -f - <<'EOF'\nadd table inet fabric\nEOF"


def test_rebase_puts_host_steps_in_the_host_namespace_only():
    p = plan(LinkUp("br0"), LinkUp("eth0", ns="c1"))
    assert p.describe("h1") == ["ip -n h1 link set dev br0 up",
                                "ip -n c1 link set dev eth0 up"]
    assert p.describe() == ["ip link set dev br0 up", "ip -n c1 link set dev eth0 up"]


def test_sysctl_keys_are_checked_when_planned():
    with pytest.raises(InvalidArgument):
        SetSysctl("kernel.panic", "1")
    with pytest.raises(InvalidArgument):
        SetSysctl("net/../../kernel/panic", "1")


def test_dry_run_touches_nothing():
    class Exploding:
        def __call__(self, ns=None):
            raise AssertionError("dry run reached the kernel")

        def close(self):
            pass

    lines = []
    ctx = Context(host_ns="h", rtnl=Exploding())
    res = Applier(ctx, mode="dry-run", echo=lines.append).run(
        plan(EnsureBridge("br9"), SetMaster("fv1", "br9")))
    assert lines == res.commands == ["ip -n h link add br9 type bridge",
                                     "ip -n h link set dev fv1 master br9"]
    assert not res.changed


# --- bridge driver: options ----------------------------------------------------------

def test_bridge_options_fabric_and_docker_names():
    d = BridgeDriver()
    assert d.validate({}) == BridgeConfig()
    cfg = d.validate({"com.docker.network.bridge.name": "br7",
                      "com.docker.network.bridge.enable_icc": "false",
                      "com.docker.network.bridge.enable_ip_masquerade": "0",
                      "com.docker.network.driver.mtu": "1450",
                      "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"})
    assert cfg == BridgeConfig(bridge="br7", icc=False, masquerade=False, mtu=1450,
                               host_binding_ipv4="127.0.0.1")
    assert d.validate({"icc": "false", "mtu": "9000", "bridge.name": "br0"}) == \
        BridgeConfig(bridge="br0", icc=False, mtu=9000)


@pytest.mark.parametrize("opts,msg", [
    ({"bridge.name": "a-very-long-bridge"}, "longer than 15"),
    ({"bridge.name": "bad/name"}, "invalid bridge name"),
    ({"icc": "maybe"}, "expected true or false"),
    ({"mtu": "big"}, "expected a number"),
    ({"mtu": "20"}, "outside 68..65535"),
    ({"colour": "blue"}, "unknown bridge driver option 'colour'"),
    ({"bridge.existing": "true"}, "needs bridge.name"),
])
def test_bridge_bad_options_one_clear_line(opts, msg):
    with pytest.raises(InvalidArgument) as e:
        BridgeDriver().validate(opts)
    assert msg in str(e.value) and "\n" not in str(e.value)


# --- bridge driver: plans ----------------------------------------------------------

def test_create_plan_default_name_tag_gateway_forwarding():
    d = BridgeDriver()
    net = make_network(d, net_id=NET_ID, subnet="10.123.0.0/24")
    p = d.plan_create(net)
    assert not p.best_effort
    assert p.describe() == [
        "ip link add fab-ab12cd34ef address 06:ab:12:cd:34:ef type bridge\n"
        "ip link set dev fab-ab12cd34ef alias fabric:ab12cd34ef00",
        "ip addr add 10.123.0.1/24 dev fab-ab12cd34ef",
        "ip link set dev fab-ab12cd34ef up",
        "sysctl -w net.ipv4.ip_forward=1",
        "sysctl -w net/ipv4/conf/fab-ab12cd34ef/route_localnet=1",
    ]


def test_internal_network_gets_no_forwarding():
    d = BridgeDriver()
    net = make_network(d, internal=True)
    assert not any(isinstance(op, SetSysctl) for op in d.plan_create(net).ops)


def test_existing_bridge_is_required_not_created_and_never_deleted():
    d = BridgeDriver()
    net = make_network(d, options={"bridge.name": "br0", "bridge.existing": "true"})
    first = d.plan_create(net).ops[0]
    assert isinstance(first, EnsureBridge) and not first.create
    dele = d.plan_delete(net)
    assert dele.best_effort
    # only the tagged delete, which skips a bridge that is not ours
    deletes = [op for op in dele.ops if isinstance(op, DeleteLink)]
    assert deletes == [DeleteLink("br0", tag=net.tag)]
    assert any(op.describe() == "ip addr del 10.123.0.1/24 dev br0" for op in dele.ops)


def test_existing_bridge_keeps_an_address_fabric_did_not_add():
    d = BridgeDriver()
    net = make_network(d, options={"bridge.name": "br0"}, gateway_owned=False)
    assert not any("addr del" in line for line in d.plan_delete(net).describe())


def test_join_plan_veth_born_in_container_namespace():
    d = BridgeDriver()
    net = make_network(d, net_id=NET_ID, options={"mtu": "1400"})
    ep = make_endpoint(net, "10.123.0.5", ifname="eth1")
    p = d.plan_join(net, ep, "/run/netns/ctr")
    veth = p.ops[0]
    assert isinstance(veth, CreateVeth) and veth.peer == "eth1" and veth.mtu == 1400
    assert p.describe()[:2] == [
        f"ip link add {ep.host_ifname} mtu 1400 type veth peer name eth1 address "
        f"02:42:0a:7b:00:05 mtu 1400 netns ctr\n"
        f"ip link set dev {ep.host_ifname} alias fabric:ab12cd34ef00:{ep.id[:12]}",
        f"ip link set dev {ep.host_ifname} master fab-ab12cd34ef",
    ]
    assert p.describe()[-1] == \
        "ip -n ctr route add default via 10.123.0.1 dev eth1 proto 251"
    assert len(ep.host_ifname) <= 15


def test_internal_network_join_has_no_default_route():
    d = BridgeDriver()
    net = make_network(d, internal=True)
    p = d.plan_join(net, make_endpoint(net, "10.123.0.2"), "/run/netns/c")
    assert not any(isinstance(op, AddRoute) for op in p.ops)


def test_leave_deletes_only_the_tagged_host_side():
    d = BridgeDriver()
    net = make_network(d)
    ep = make_endpoint(net, "10.123.0.2")
    p = d.plan_leave(net, ep, "/run/netns/c")
    assert p == Plan((DeleteLink(ep.host_ifname, tag=ep.tag(net)),), best_effort=True,
                     title=p.title)
