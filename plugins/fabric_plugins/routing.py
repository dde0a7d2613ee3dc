"""The routing driver: one subnet across hosts, a slice per host, routes between them.

Flannel's host-gw backend, and seed 003 made automatic (a `--bip` per host and a
`route add -net 172.18.0.0/16 gw 192.168.18.130` on each). A routing network is
global: its record lives in the cluster store, and each host that joins it gets a
slice of its subnet (`host-prefix` bits, default 24, in the order hosts join, or the
slice a host pins with `-o slice=CIDR`; the network core hands them out,
fabric/network/slicing.py). On each host:

- the host's containers sit on a bridge holding the first address of its slice, with
  addresses of the slice (/24): flannel's cni0. Everything local (veths, icc, links,
  published ports, anti-spoofing) is the bridge driver's, reused as it is;
- one route per other member: its slice via its underlay address, `proto 251`, so a
  teardown removes only fabric's routes. Added and removed as members come and go,
  by the cluster watch, within a second or two (fabric/cluster/watch.py);
- the firewall forwards between the network's slices without NAT, in both directions
  (facts: `unnatted` = the network's whole subnet), and from the members' own
  underlay addresses, so a peer host reaches the containers too; traffic leaving the
  fabric is masqueraded. With icc=false, containers of the network are kept apart on
  other hosts too (facts: `span`), as on one host.

No encapsulation, so the hosts must share a layer-2 segment (as flannel's host-gw
requires): a member's underlay address is used as the next hop.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from netaddr import IPNetwork

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.net.routes import RTPROT_FABRIC
from fabric.network.model import Endpoint, Network, Peer, SubnetConfig
from fabric.plan import AddRoute, DelRoute, Plan
from fabric_plugins.bridge import BridgeConfig, BridgeDriver

# the bridge options that mean the same on a routing network's local bridge
OPTIONS = ("icc", "ip_masquerade", "mtu", "host_binding_ipv4",
           "com.docker.network.bridge.enable_icc",
           "com.docker.network.bridge.enable_ip_masquerade",
           "com.docker.network.driver.mtu", "com.docker.network.bridge.host_binding_ipv4")


@dataclass(frozen=True)
class RoutingConfig:
    bridge: BridgeConfig


class RoutingDriver:
    name = "routing"
    scope = "global"
    requires: frozenset[str] = frozenset({"cluster-store", "underlay"})

    def __init__(self) -> None:
        self._bridge = BridgeDriver()

    def validate(self, options: Mapping[str, str]) -> RoutingConfig:
        unknown = sorted(k for k in options if k not in OPTIONS)
        if unknown:
            raise InvalidArgument(
                f"unknown routing driver option {unknown[0]!r} (known: icc, ip_masquerade, "
                "mtu, host_binding_ipv4, and the network's host-prefix and slice)")
        # forwarding is what this driver is: always on
        cfg = self._bridge.validate({**options, "ip_forward": "true"})
        return RoutingConfig(bridge=cfg)

    def _local(self, net: Network) -> Network:
        """The network as the bridge driver sees this host's part of it."""
        return replace(net, config=net.config.bridge)

    # --- across hosts (driver.SpansHosts) -------------------------------------------

    def spans_hosts(self, config: RoutingConfig) -> bool:
        return True

    def host_ipam(self, config: RoutingConfig, whole: SubnetConfig, piece: str) -> SubnetConfig:
        # the slice is a subnet of its own behind this host's bridge: containers send
        # everything outside it to the gateway, and the host routes it
        return SubnetConfig(piece, str(IPNetwork(piece).network + 1))

    def plan_peer_join(self, net: Network, peer: Peer) -> Plan:
        return Plan((AddRoute(peer.subnet, gateway=peer.underlay),),
                    title=f"{net.name}: route to {peer.host}")

    def plan_peer_leave(self, net: Network, peer: Peer) -> Plan:
        return Plan((DelRoute(peer.subnet, gateway=peer.underlay, proto=RTPROT_FABRIC),),
                    best_effort=True, title=f"{net.name}: {peer.host} left")

    # --- what the firewall needs -------------------------------------------------------

    def firewall_facts(self, net: Network, endpoints: Sequence[Endpoint]) -> FirewallFacts:
        facts = self._bridge.firewall_facts(self._local(net), endpoints)
        hosts = tuple(f"{p.underlay}/32" for p in net.peers if p.underlay)
        return replace(facts, unnatted=net.span + hosts, span=net.span)

    # --- this host's part: the bridge driver's -----------------------------------------

    def plan_create(self, net: Network) -> Plan:
        return self._bridge.plan_create(self._local(net))

    def plan_delete(self, net: Network) -> Plan:
        return self._bridge.plan_delete(self._local(net))

    def plan_join(self, net: Network, ep: Endpoint, netns_path: str) -> Plan:
        return self._bridge.plan_join(self._local(net), ep, netns_path)

    def plan_leave(self, net: Network, ep: Endpoint, netns_path: str,
                   sandbox_ending: bool = False) -> Plan:
        return self._bridge.plan_leave(self._local(net), ep, netns_path, sandbox_ending)
