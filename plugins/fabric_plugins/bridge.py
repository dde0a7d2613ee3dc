"""The bridge driver: Docker's bridge networks, as plain Linux bridges and veth pairs.

A network is a bridge holding its gateway address; an endpoint is a veth pair whose
host side (`fv<hash>`) is a port of the bridge and whose other side is born inside the
container's namespace as eth0, eth1... Every kernel object made here carries the
network's tag in its alias, and teardown deletes only what carries it, so a bridge
made by hand (`-o bridge.name=br0` naming an existing one, or the engine's `bridge`
setting) is used but never deleted.

With `-o uplink=eth0` (seed 001 §15.1) the host's NIC becomes a port of the bridge and
its addresses and routes move to the bridge, so containers sit on the NIC's own LAN;
removing the network gives them back. The bridge does not take the network's gateway
then: on a LAN the gateway is the LAN's router, and every host's bridge holding one
address would be a conflict. On a host that shares a cluster store such a network is
lab-wide (SpansHosts): each host hands out addresses from its own slice of the
subnet, like `--fixed-cidr`, and containers on different hosts meet at layer 2.

`-o routed_subnets=CIDR,...` (the `routed-subnets` setting, for the default bridge):
subnets that reach the network's containers routed, without NAT either way.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.net.links import IFNAMSIZ, valid_name
from fabric.net.sysctl import conf_key
from fabric.network.ipam import parse_address, parse_subnet
from fabric.network.model import Endpoint, Network, Peer, SubnetConfig, Uplink
from fabric.network.options import config_fields, parse_bool
from fabric.plan import (
    AddAddress,
    AddRoute,
    CreateVeth,
    DelAddress,
    DeleteLink,
    DelRoute,
    EnsureBridge,
    LinkUp,
    Plan,
    SetHairpin,
    SetMaster,
    SetSysctl,
)
from fabric.plan.ops import Op

DOCKER = "com.docker.network.bridge."


def _bool(key: str, value: str) -> bool:
    return parse_bool(value, f"option {key}")


def _mtu(key: str, value: str) -> int:
    try:
        mtu = int(value)
    except ValueError:
        raise InvalidArgument(f"option {key}: expected a number, got {value!r}") from None
    if not 68 <= mtu <= 65535:
        raise InvalidArgument(f"option {key}: MTU {mtu} is outside 68..65535")
    return mtu


def _bridge_name(key: str, value: str) -> str:
    if len(value) > IFNAMSIZ:
        raise InvalidArgument(f"bridge name {value!r} is longer than {IFNAMSIZ} characters")
    if not valid_name(value):
        raise InvalidArgument(f"invalid bridge name {value!r}")
    return value


def _ipv4(key: str, value: str) -> str:
    return str(parse_address(value, f"option {key}"))


def _nic(key: str, value: str) -> str:
    if not valid_name(value):
        raise InvalidArgument(f"option {key}: invalid interface name {value!r}")
    return value


def _subnets(key: str, value: str) -> tuple[str, ...]:
    return tuple(str(parse_subnet(v.strip(), f"option {key} entry"))
                 for v in value.split(",") if v.strip())


# option -> (field, parser); Docker's names are accepted beside fabric's short ones.
OPTIONS = {
    "bridge.name": ("bridge", _bridge_name),
    DOCKER + "name": ("bridge", _bridge_name),
    "bridge.existing": ("existing", _bool),
    "icc": ("icc", _bool),
    DOCKER + "enable_icc": ("icc", _bool),
    "ip_masquerade": ("masquerade", _bool),
    DOCKER + "enable_ip_masquerade": ("masquerade", _bool),
    "mtu": ("mtu", _mtu),
    "com.docker.network.driver.mtu": ("mtu", _mtu),
    "host_binding_ipv4": ("host_binding_ipv4", _ipv4),
    DOCKER + "host_binding_ipv4": ("host_binding_ipv4", _ipv4),
    "ip_forward": ("ip_forward", _bool),
    DOCKER + "default_bridge": ("default_bridge", _bool),
    "uplink": ("uplink", _nic),
    "routed_subnets": ("routed_subnets", _subnets),
}


@dataclass(frozen=True)
class BridgeConfig:
    bridge: str | None = None   # None: "fab-" + 10 characters of the network id
    existing: bool = False      # the bridge must already exist (Docker's -b br0)
    icc: bool = True
    masquerade: bool = True
    mtu: int | None = None
    host_binding_ipv4: str = "0.0.0.0"
    ip_forward: bool = True     # set net.ipv4.ip_forward=1 (the engine's ip-forward)
    default_bridge: bool = False
    uplink: str | None = None   # a host NIC the bridge takes over
    routed_subnets: tuple[str, ...] = ()  # reached without NAT, both ways


class BridgeDriver:
    name = "bridge"
    scope = "local"
    requires: frozenset[str] = frozenset()

    def validate(self, options: Mapping[str, str]) -> BridgeConfig:
        fields = config_fields(options, OPTIONS, "bridge", f"and Docker's {DOCKER}* names")
        if fields.get("existing") and not fields.get("bridge"):
            raise InvalidArgument("option bridge.existing needs bridge.name")
        if fields.get("uplink") and fields.get("existing"):
            raise InvalidArgument("option uplink makes the network's own bridge; it cannot "
                                  "take over an existing one (bridge.existing)")
        return BridgeConfig(**fields)

    # --- across hosts (driver.SpansHosts) and uplinks (driver.Uplinks) -----------------

    def uplink(self, config: BridgeConfig) -> str | None:
        return config.uplink

    def spans_hosts(self, config: BridgeConfig) -> bool:
        return config.uplink is not None

    def host_ipam(self, config: BridgeConfig, whole: SubnetConfig, piece: str) -> SubnetConfig:
        # one L2 segment across hosts: each hands out its slice, as with --fixed-cidr
        return SubnetConfig(whole.subnet, whole.gateway, piece)

    def plan_peer_join(self, net: Network, peer: Peer) -> Plan:
        return Plan((), title=f"{net.name}: {peer.host} is on the same segment")

    def plan_peer_leave(self, net: Network, peer: Peer) -> Plan:
        return Plan((), best_effort=True, title=f"{net.name}: {peer.host} left")

    # --- names -----------------------------------------------------------------------

    def bridge_name(self, net: Network) -> str:
        return net.config.bridge or f"fab-{net.id[:10]}"

    @staticmethod
    def bridge_mac(net: Network) -> str:
        # Fixed, so the bridge keeps one address as ports come and go (otherwise it
        # takes the lowest port MAC and every neighbour's ARP entry goes stale).
        # 0x06: locally administered unicast, distinct from containers' 02:42:...
        h = net.id[:10]
        return "06:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))

    # --- what the firewall needs --------------------------------------------------------

    def firewall_facts(self, net: Network, endpoints: Sequence[Endpoint]) -> FirewallFacts:
        # every container sits behind the network's bridge, whatever their number
        cfg: BridgeConfig = net.config
        return FirewallFacts(interfaces=(self.bridge_name(net),), icc=cfg.icc,
                             masquerade=cfg.masquerade, unnatted=cfg.routed_subnets,
                             publish_ip=cfg.host_binding_ipv4)

    # --- plans -----------------------------------------------------------------------

    def plan_create(self, net: Network) -> Plan:
        cfg: BridgeConfig = net.config
        br = self.bridge_name(net)
        up = net.uplink
        # With an uplink the bridge takes the NIC's MAC: it stays a port, so the MAC
        # never changes, and each host's bridge differs although a lab-wide network has
        # one id (bridge_mac would give every host's bridge the same one on one LAN).
        ops: list = [EnsureBridge(br, tag=net.tag, mtu=cfg.mtu,
                                  mac=up.mac if up else self.bridge_mac(net),
                                  create=not cfg.existing, claim=not self._named(net))]
        if up is not None:
            ops += _take(up, br)
        else:
            ops += [AddAddress(br, s.gateway_cidr) for s in net.ipam]
        ops.append(LinkUp(br))
        if not net.internal:
            if cfg.ip_forward:
                ops.append(SetSysctl("net.ipv4.ip_forward", "1"))
            # lets published ports answer on 127.0.0.1: DNAT to a container keeps the
            # loopback source, which the kernel drops on any other interface without it
            ops.append(SetSysctl(conf_key(br, "route_localnet"), "1",
                                 restore="0" if self._named(net) else None))
        return Plan(tuple(ops), title=f"create network {net.name}")

    def plan_delete(self, net: Network) -> Plan:
        br = self.bridge_name(net)
        ops: list = []
        if self._named(net):
            # The bridge may be one made by hand: undo only what fabric added to it.
            # (Deleting our own bridge would take these along anyway.)
            if net.gateway_owned:
                ops += [DelAddress(br, s.gateway_cidr) for s in net.ipam]
            if not net.internal:
                ops.append(SetSysctl(conf_key(br, "route_localnet"), "0", missing_ok=True))
        # the tag check leaves any bridge that is not this network's own alone
        ops.append(DeleteLink(br, tag=net.tag))
        if net.uplink is not None:
            ops += _give_back(net.uplink, br)
        return Plan(tuple(ops), best_effort=True, title=f"remove network {net.name}")

    def plan_join(self, net: Network, ep: Endpoint, netns_path: str) -> Plan:
        cfg: BridgeConfig = net.config
        br, host, ns = self.bridge_name(net), ep.host_ifname, netns_path
        ops: list = [
            CreateVeth(host, peer=ep.ifname, peer_ns=ns, tag=ep.tag(net), mtu=cfg.mtu,
                       peer_mac=ep.mac),
            SetMaster(host, br),
            # a container reaching its own published port comes back in this port
            SetHairpin(host),
            LinkUp(host),
            *container_side(net, ep, ns),
        ]
        return Plan(tuple(ops), title=f"connect {ep.container_id[:12]} to {net.name}")

    def plan_leave(self, net: Network, ep: Endpoint, netns_path: str,
                   sandbox_ending: bool = False) -> Plan:
        title = f"disconnect {ep.container_id[:12]} from {net.name}"
        if sandbox_ending:
            # The pair dies with the namespace, in the kernel's own cleanup work: deleting
            # it here first costs about 25 ms of waiting for RCU on every container exit.
            return Plan((), best_effort=True, title=title)
        # Deleting the host side removes the pair, the container's address and its
        # routes through it; if the namespace is gone the pair went with it.
        return Plan((DeleteLink(ep.host_ifname, tag=ep.tag(net)),), best_effort=True,
                    title=title)

    @staticmethod
    def _named(net: Network) -> bool:
        """True when the user named the bridge, which may then be one made by hand."""
        return bool(net.config.bridge)


def container_side(net: Network, ep: Endpoint, ns: str) -> list[Op]:
    """The container's end of its veth, whatever the host end is plugged into: its
    address, up with its loopback, and the default route through the network's gateway
    (none on an internal network)."""
    ops: list[Op] = [AddAddress(ep.ifname, ep.address, ns=ns), LinkUp(ep.ifname, ns=ns),
                     LinkUp("lo", ns=ns)]
    if ep.gateway and not net.internal:
        ops.append(AddRoute("default", gateway=ep.gateway, dev=ep.ifname, ns=ns))
    return ops


def _take(up: Uplink, br: str) -> list[Op]:
    """The NIC's routes and addresses off it, the NIC into the bridge, and both onto the
    bridge. Routes go first: the kernel refuses a second default route while the
    NIC's is there. Undone in reverse when a later step fails."""
    ops: list[Op] = [LinkUp(br)]
    ops += [DelRoute(r.dst, gateway=r.gateway, dev=up.ifname, proto=r.proto)
            for r in up.routes]
    ops += [DelAddress(up.ifname, a) for a in up.addresses]
    ops += [SetMaster(up.ifname, br), LinkUp(up.ifname)]
    ops += [AddAddress(br, a) for a in up.addresses]
    ops += [AddRoute(r.dst, gateway=r.gateway, dev=br, metric=r.metric, proto=r.proto)
            for r in up.routes]
    return ops


def _give_back(up: Uplink, br: str) -> list[Op]:
    """After the bridge is gone (its addresses and routes with it, the NIC released):
    the NIC's own back on it."""
    ops: list[Op] = [SetMaster(up.ifname, None), LinkUp(up.ifname)]
    ops += [AddAddress(up.ifname, a) for a in up.addresses]
    ops += [AddRoute(r.dst, gateway=r.gateway, dev=up.ifname, metric=r.metric,
                     proto=r.proto) for r in up.routes]
    return ops
