"""The mesh driver: one L2 network across hosts over kernel VXLAN, weave-style.

Seed 001 §15.3 (`weave launch`, `weave launch PEER`, `weave run 192.168.1.2/24`) done
the way flannel's VXLAN backend and Docker's overlay driver program the kernel, with
nothing learnt and nothing flooded. A mesh network is global: its record lives in the
cluster store, every member host hands out addresses from one pool (no slices: the
cluster store's leases keep them apart), and on each member:

- the host's containers sit on a bridge holding the subnet's gateway address (the
  same on every host: each host is its own containers' way out, and the tunnel never
  carries ARP for it); everything local (veths, icc, links, published ports,
  anti-spoofing) is the bridge driver's, reused as it is;
- a VXLAN device, a port of that bridge: the network's VNI, UDP port 4789, sending
  from the host's underlay address, `nolearning` and `proxy` (fabric/net/vxlan.py).
  No all-zero FDB entry: a frame for a MAC nobody published is dropped, not flooded;
- per container on another host, from the cluster's endpoint registry
  (fabric/network/registry.py), exactly two entries: `bridge fdb append MAC dev VXLAN
  dst VTEP self static` (where its frames go) and `ip neigh replace IP lladdr MAC dev
  VXLAN nud permanent` (which the device answers local containers' ARP requests
  from). No route: the whole subnet is on-link, one segment. Docker's overlay keeps
  the same two per peer endpoint (peerdb.go); flannel keeps one route, one neighbour
  and one FDB entry per remote *host*, because it routes between per-host subnets;
- MTU: the underlay NIC's less VXLAN's 50 bytes on the VXLAN device, the bridge and
  every container's eth (`-o mtu=N` chooses another);
- the firewall checks frames arriving through the VXLAN device like those of a local
  container's veth: each must carry the MAC and address the registry lists for a
  container on another host (facts: `tunnel`), and icc=false keeps the network's
  containers apart across hosts as on one.

A host itself does not reach other hosts' containers over the mesh (every bridge
holds the same gateway address), as with Docker's overlay networks.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.network.model import Endpoint, Network, RemoteEndpoint
from fabric.plan import AddFdb, AddNeighbour, DeleteLink, LinkUp, Plan, SetMaster, SetSysctl
from fabric.plan.tunnel_ops import DelFdb, DelNeighbour, EnsureVxlan
from fabric_plugins.bridge import BridgeConfig, BridgeDriver

# the bridge options that mean the same on this host's bridge: the routing driver's
from fabric_plugins.routing import OPTIONS as BRIDGE_OPTIONS

VXLAN_PORT = 4789           # IANA's; every member must use the same
VXLAN_OVERHEAD = 50         # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
VNIS = range(4096, 1 << 24)  # chosen from here, as Docker's overlay does
DEFAULT_SUBNET = "10.32.0.0/12"   # weave's default allocation range
ARP_RETRANS_MS = "100"      # containers' ARP retransmission on the mesh (default 1000)

VNI_OPTIONS = ("vni", "com.docker.network.driver.overlay.vxlanid_list")


@dataclass(frozen=True)
class MeshConfig:
    bridge: BridgeConfig
    vni: int | None = None      # None: the lowest free, chosen when the network is made


def _vni(key: str, value: str) -> int:
    try:
        vni = int(value)
    except ValueError:
        raise InvalidArgument(f"option {key}: expected a number, got {value!r}") from None
    if not 1 <= vni < 1 << 24:
        raise InvalidArgument(f"option {key}: VNI {vni} is outside 1..16777215")
    return vni


class MeshDriver:
    name = "mesh"
    scope = "global"
    requires: frozenset[str] = frozenset({"cluster-store", "underlay"})

    def __init__(self) -> None:
        self._bridge = BridgeDriver()

    def validate(self, options: Mapping[str, str]) -> MeshConfig:
        unknown = sorted(k for k in options if k not in BRIDGE_OPTIONS + VNI_OPTIONS)
        if unknown:
            raise InvalidArgument(f"unknown mesh driver option {unknown[0]!r} (known: vni, "
                                  "icc, ip_masquerade, mtu, host_binding_ipv4)")
        vni = next((_vni(k, str(options[k])) for k in VNI_OPTIONS if k in options), None)
        cfg = self._bridge.validate({**{k: v for k, v in options.items()
                                        if k in BRIDGE_OPTIONS}, "ip_forward": "true"})
        return MeshConfig(bridge=cfg, vni=vni)

    # --- names -----------------------------------------------------------------------

    @staticmethod
    def vxlan_name(net: Network) -> str:
        return f"fvx-{net.id[:10]}"

    def bridge_name(self, net: Network) -> str:
        return self._bridge.bridge_name(self._local(net))

    @staticmethod
    def mtu(net: Network) -> int | None:
        cfg: MeshConfig = net.config
        if cfg.bridge.mtu:
            return cfg.bridge.mtu
        return net.underlay.mtu - VXLAN_OVERHEAD if net.underlay is not None else None

    def _local(self, net: Network) -> Network:
        """The network as the bridge driver sees this host's part of it."""
        cfg: MeshConfig = net.config
        return replace(net, config=replace(cfg.bridge, mtu=self.mtu(net)))

    # --- across hosts (driver.Tunnels) -------------------------------------------------

    def tunnel_id(self, config: MeshConfig) -> int | None:
        return config.vni

    def tunnel_ids(self) -> range:
        return VNIS

    def vtep_mac(self, net: Network) -> str:
        # One per host and network, the same after a restart; 0x0e: locally
        # administered unicast, apart from containers' 02:42:... and bridges' 06:...
        seed = f"{net.id}/{net.underlay.address if net.underlay else ''}"
        h = hashlib.sha256(seed.encode()).hexdigest()[:10]
        return "0e:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))

    def plan_remote_join(self, net: Network, ep: RemoteEndpoint) -> Plan:
        vx = self.vxlan_name(net)
        return Plan((AddFdb(vx, ep.mac, dst=ep.vtep), AddNeighbour(vx, ep.ip, ep.mac)),
                    title=f"{net.name}: {ep.name} on {ep.host}")

    def plan_remote_leave(self, net: Network, ep: RemoteEndpoint) -> Plan:
        vx = self.vxlan_name(net)
        return Plan((DelNeighbour(vx, ep.ip, ep.mac), DelFdb(vx, ep.mac, dst=ep.vtep)),
                    best_effort=True, title=f"{net.name}: {ep.name} on {ep.host} left")

    # --- what the firewall needs -------------------------------------------------------

    def firewall_facts(self, net: Network, endpoints: Sequence[Endpoint]) -> FirewallFacts:
        facts = self._bridge.firewall_facts(self._local(net), endpoints)
        return replace(facts, tunnel=self.vxlan_name(net))

    # --- this host's part ------------------------------------------------------------

    def plan_create(self, net: Network) -> Plan:
        if net.underlay is None or net.tunnel_id is None:
            raise InvalidArgument(f"network {net.name}: no underlay or VNI recorded for this "
                                  "host; remove the network here and create it again")
        local = self._local(net)
        br, vx = self._bridge.bridge_name(local), self.vxlan_name(net)
        tunnel = (EnsureVxlan(vx, vni=net.tunnel_id, port=VXLAN_PORT,
                              local=net.underlay.address, dev=net.underlay.ifname,
                              tag=net.tag, mtu=self.mtu(net), mac=self.vtep_mac(net)),
                  SetMaster(vx, br), LinkUp(vx))
        return Plan(self._bridge.plan_create(local).ops + tunnel,
                    title=f"create network {net.name}")

    def plan_delete(self, net: Network) -> Plan:
        gone = Plan((DeleteLink(self.vxlan_name(net), tag=net.tag),), best_effort=True)
        return replace(gone + self._bridge.plan_delete(self._local(net)),
                       title=f"remove network {net.name}")

    def plan_join(self, net: Network, ep: Endpoint, netns_path: str) -> Plan:
        # An address on the mesh can be asked for before its host has published it (a
        # client retrying a server that is starting on another host). The container's
        # ARP then waits for its next retransmission, a second later by default: every
        # 100 ms instead, so a new container is reached within a tenth of a second of
        # being programmed in, wherever it runs.
        arp = SetSysctl(f"net/ipv4/neigh/{ep.ifname}/retrans_time_ms", ARP_RETRANS_MS,
                        ns=netns_path)
        return self._bridge.plan_join(self._local(net), ep, netns_path) + Plan((arp,))

    def plan_leave(self, net: Network, ep: Endpoint, netns_path: str,
                   sandbox_ending: bool = False) -> Plan:
        return self._bridge.plan_leave(self._local(net), ep, netns_path, sandbox_ending)
