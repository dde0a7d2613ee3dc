"""The ovs driver: an Open vSwitch bridge per network on each host, joined by tunnels.

Seed 001 §15.2 made automatic (`ovs-vsctl add-br obr0`, `add-port obr0 gre0 -- set
interface gre0 type=gre options:remote_ip=...`, a bridge address and a host route per
host). An ovs network is global: its record lives in the cluster store, and each host
that creates it joins it with a slice of its subnet. On each host (fabric/ovs runs the
host's own ovsdb-server and ovs-vswitchd, started by the first plan that needs them):

- one bridge `fo-<id>`, marked `fabric-network=<id>` in external_ids; its internal port
  (the bridge's own interface) holds this host's gateway address and is the interface
  the network's containers sit behind, for routing and for the firewall;
- each container's host-side veth is a port of it (`fabric-endpoint=<id>`);
- one tunnel port per other member host, GRE (`-o tunnel=vxlan`: VXLAN), keyed by the
  network's VNI (`-o vni=N`, default derived from the network's id), so several
  networks between the same hosts stay apart.

Addressing follows the seed. By default each host's slice is a subnet of its own
behind its own gateway (192.168.1.0/24 on one host, 192.168.2.0/24 on the other), and
the host routes the network's whole subnet onto the bridge (the seed's `route add -net
... dev br0`) and each peer's slice via that peer's gateway, so traffic between slices
is routed by both hosts, each seeing both directions. `-o flat=true`: one subnet
across the hosts, one L2 segment; each host hands out addresses from its slice and its
bridge holds the first of them as its containers' gateway.

Loops: a full mesh of tunnels between learning bridges loops as soon as there are three
hosts (a broadcast goes h1 -> h2 -> h3 -> h1 ...). Every tunnel port is `protected`
(OVS: no traffic between two protected ports), so a frame that came in through a
tunnel never leaves through another one: split horizon, which a full mesh needs and
which loses nothing, since every host hears every other one directly. No flows and no
spanning tree (RSTP would block tunnels and route some hosts' traffic through others).

icc=false: the containers' ports are protected too, so they reach only the gateway;
the host answers their ARP for each other (proxy_arp_pvlan, RFC 3069) and routes what
they send each other through the gateway, where the firewall's icc=false rules, links
and published ports apply as on a bridge network. Across hosts the tunnels are
protected as well, so an icc=false network's containers on different hosts meet only
routed, and the firewall's `span` facts keep them apart.

MTU: tunnels add 38 (GRE) or 50 (VXLAN) bytes and OVS never fragments, so containers
and gateways get 1450 unless `-o mtu=N`; with the userspace datapath the containers'
transmit offloads are off (fabric/net/offload.py says why).
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netaddr import IPNetwork

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.net.routes import RTPROT_FABRIC
from fabric.net.sysctl import conf_key
from fabric.network.ipam import parse_address
from fabric.network.model import Endpoint, Network, Peer, SubnetConfig
from fabric.network.options import config_fields, parse_bool
from fabric.ovs import db as ovsdb
from fabric.plan import (
    AddAddress,
    AddRoute,
    CreateVeth,
    DeleteLink,
    DelRoute,
    LinkUp,
    Plan,
    SetSysctl,
    TxOffloads,
)
from fabric.plan.ops import Op
from fabric.plan.ovs_ops import (
    AddOvsPort,
    DeleteOvsBridge,
    DeleteOvsPort,
    EnsureOvsBridge,
    StartOvs,
    StopOvsIfIdle,
    TakeUnderlay,
)
from fabric_plugins.bridge import container_side

TUNNELS = ("gre", "vxlan")
DEFAULT_MTU = 1450      # 1500 less VXLAN's 50 (GRE's 38 fits too)
ARP_IGNORE_ALL = "8"
VNI_MAX = 2**24 - 1     # VXLAN's VNI is 24 bits; GRE's key would take 32


@dataclass(frozen=True)
class OvsConfig:
    tunnel: str = "gre"
    vni: int | None = None      # None: derived from the network's id
    flat: bool = False
    icc: bool = True
    masquerade: bool = True
    mtu: int = DEFAULT_MTU
    host_binding_ipv4: str = "0.0.0.0"


def _tunnel(key: str, value: str) -> str:
    if value not in TUNNELS:
        raise InvalidArgument(f"option {key}: {value!r} is not a tunnel type "
                              f"(known: {', '.join(TUNNELS)})")
    return value


def _int(key: str, value: str, low: int, high: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(f"option {key}: expected a number, got {value!r}") from None
    if not low <= n <= high:
        raise InvalidArgument(f"option {key}: {n} is outside {low}..{high}")
    return n


OPTIONS = {
    "tunnel": ("tunnel", _tunnel),
    "vni": ("vni", lambda k, v: _int(k, v, 1, VNI_MAX)),
    "flat": ("flat", lambda k, v: parse_bool(v, f"option {k}")),
    "icc": ("icc", lambda k, v: parse_bool(v, f"option {k}")),
    "com.docker.network.bridge.enable_icc": ("icc", lambda k, v: parse_bool(v, f"option {k}")),
    "ip_masquerade": ("masquerade", lambda k, v: parse_bool(v, f"option {k}")),
    "mtu": ("mtu", lambda k, v: _int(k, v, 576, 9000)),
    "com.docker.network.driver.mtu": ("mtu", lambda k, v: _int(k, v, 576, 9000)),
    "host_binding_ipv4": ("host_binding_ipv4", lambda k, v: str(parse_address(v, k))),
}


def _first(cidr: str) -> str:
    return str(IPNetwork(cidr).network + 1)


def _mac(*words: str) -> str:
    # 0x0a: locally administered unicast, apart from containers' 02:42 and bridges' 06
    h = hashlib.sha256(" ".join(words).encode()).hexdigest()
    return "0a:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


class OvsDriver:
    name = "ovs"
    scope = "global"
    requires: frozenset[str] = frozenset({"cluster-store", "ovs"})

    def validate(self, options: Mapping[str, str]) -> OvsConfig:
        return OvsConfig(**config_fields(options, OPTIONS, "ovs",
                                         "and the network's host-prefix and slice"))

    # --- names and marks -----------------------------------------------------------------

    @staticmethod
    def bridge_name(net: Network) -> str:
        return f"fo-{net.id[:10]}"

    @staticmethod
    def vni(net: Network) -> int:
        cfg: OvsConfig = net.config
        return cfg.vni if cfg.vni is not None else int(net.id[:6], 16) or 1

    @staticmethod
    def tunnel_name(net: Network, peer: Peer) -> str:
        return "ft" + hashlib.sha256(f"{net.id} {peer.host}".encode()).hexdigest()[:11]

    @staticmethod
    def ids(net: Network, *more: tuple[str, str]) -> ovsdb.Ids:
        return ((ovsdb.NETWORK, net.id), *more)

    # --- across hosts (driver.SpansHosts) ------------------------------------------------

    def spans_hosts(self, config: OvsConfig) -> bool:
        return True

    def host_ipam(self, config: OvsConfig, whole: SubnetConfig, piece: str) -> SubnetConfig:
        if config.flat:
            # one segment: the whole subnet, this host's slice to hand out, and a gateway
            # of its own (each host's bridge is a router of the segment)
            return SubnetConfig(whole.subnet, _first(piece), piece)
        return SubnetConfig(piece, _first(piece))

    def plan_peer_join(self, net: Network, peer: Peer) -> Plan:
        cfg: OvsConfig = net.config
        br = self.bridge_name(net)
        ops: list[Op] = [] if peer.underlay is None else [
            TakeUnderlay(peer.underlay),
            AddOvsPort(br, self.tunnel_name(net, peer),
                       self.ids(net, (ovsdb.PEER, peer.host)), kind=cfg.tunnel,
                       options=(("remote_ip", peer.underlay), ("key", str(self.vni(net)))),
                       protected=True)]
        if not cfg.flat and peer.subnet:
            ops.append(AddRoute(peer.subnet, gateway=_first(peer.subnet), dev=br))
        return Plan(tuple(ops), title=f"{net.name}: tunnel to {peer.host}")

    def plan_peer_leave(self, net: Network, peer: Peer) -> Plan:
        cfg: OvsConfig = net.config
        ops: list[Op] = []
        if not cfg.flat and peer.subnet:
            ops.append(DelRoute(peer.subnet, gateway=_first(peer.subnet), proto=RTPROT_FABRIC))
        ops.append(DeleteOvsPort(self.tunnel_name(net, peer),
                                 self.ids(net, (ovsdb.PEER, peer.host))))
        return Plan(tuple(ops), best_effort=True, title=f"{net.name}: {peer.host} left")

    # --- what the firewall needs -----------------------------------------------------------

    def firewall_facts(self, net: Network, endpoints: Sequence[Endpoint]) -> FirewallFacts:
        cfg: OvsConfig = net.config
        # containers' frames are switched inside OVS, out of the kernel's bridge hooks:
        # the firewall sees them where they are routed, at the bridge's internal port
        return FirewallFacts(interfaces=(self.bridge_name(net),), bridged=False, icc=cfg.icc,
                             masquerade=cfg.masquerade, unnatted=net.span, span=net.span,
                             publish_ip=cfg.host_binding_ipv4)

    # --- this host's part ------------------------------------------------------------------

    def plan_create(self, net: Network) -> Plan:
        cfg: OvsConfig = net.config
        br = self.bridge_name(net)
        gateway = net.ipam[0].gateway if net.ipam else ""
        # each host's gateway has a MAC of its own: on a flat network they share a segment
        ops: list[Op] = [StartOvs(),
                         EnsureOvsBridge(br, self.ids(net, (ovsdb.VNI, str(self.vni(net)))),
                                         mac=_mac(net.id, gateway), mtu=cfg.mtu,
                                         unique=(ovsdb.VNI,)),
                         LinkUp(br)]
        ops += [AddAddress(br, s.gateway_cidr) for s in net.ipam]
        if not cfg.flat:
            # the seed's host route: the whole network through the bridge, so the
            # peers' gateways (and their slices, through them) are reached on it
            ops += [AddRoute(s, dev=br) for s in net.span]
        ops += [SetSysctl("net.ipv4.ip_forward", "1"),
                # the gateway routes between containers of a segment: no redirects
                SetSysctl(conf_key(br, "send_redirects"), "0")]
        if not cfg.icc:
            ops.append(SetSysctl(conf_key(br, "proxy_arp_pvlan"), "1"))
        return Plan(tuple(ops), title=f"create network {net.name}")

    def plan_delete(self, net: Network) -> Plan:
        cfg: OvsConfig = net.config
        br = self.bridge_name(net)
        ops: list[Op] = []
        if not cfg.flat:
            ops += [DelRoute(s, dev=br, proto=RTPROT_FABRIC) for s in net.span]
        # the bridge takes its ports along (tunnels, and containers' that are left)
        ops += [DeleteOvsBridge(br, self.ids(net)), StopOvsIfIdle()]
        return Plan(tuple(ops), best_effort=True, title=f"remove network {net.name}")

    def plan_join(self, net: Network, ep: Endpoint, netns_path: str) -> Plan:
        cfg: OvsConfig = net.config
        host, ns = ep.host_ifname, netns_path
        ops: list[Op] = [
            CreateVeth(host, peer=ep.ifname, peer_ns=ns, tag=ep.tag(net), mtu=cfg.mtu,
                       peer_mac=ep.mac),
            TxOffloads(ep.ifname, ns=ns),
            # the userspace datapath reads the port through a packet socket, which leaves
            # the frames to the kernel too: it must not answer ARP there for the gateway
            SetSysctl(conf_key(host, "arp_ignore"), ARP_IGNORE_ALL),
            LinkUp(host),
            AddOvsPort(self.bridge_name(net), host, self.ids(net, (ovsdb.ENDPOINT, ep.id)),
                       protected=not cfg.icc),
            *container_side(net, ep, ns),
        ]
        return Plan(tuple(ops), title=f"connect {ep.container_id[:12]} to {net.name}")

    def plan_leave(self, net: Network, ep: Endpoint, netns_path: str,
                   sandbox_ending: bool = False) -> Plan:
        # the port's row outlives its veth: OVS would keep looking for the interface
        ops: list[Op] = [DeleteOvsPort(ep.host_ifname, self.ids(net, (ovsdb.ENDPOINT, ep.id)))]
        if not sandbox_ending:
            ops.append(DeleteLink(ep.host_ifname, tag=ep.tag(net)))
        return Plan(tuple(ops), best_effort=True,
                    title=f"disconnect {ep.container_id[:12]} from {net.name}")
