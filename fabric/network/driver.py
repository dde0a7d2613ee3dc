"""The network driver API and the registry of installed drivers.

A driver is four planners, a validator and a statement of what the firewall needs; it
never touches the kernel or the store. `validate` is pure and runs before anything is
created; the `plan_*` methods return plans the network core's applier runs (and rolls
back, and explains); `firewall_facts` tells the firewall which interfaces the
network's containers sit behind and how to treat them, so no backend ever reads one
driver's config.

`scope` says where a network's record lives ("local": this host's store; "global":
the cluster store the hosts share), and `requires` what the host must offer (names
such as "cluster-store" or "ovs", matched against HostContext.capabilities); the
network core refuses a driver whose needs the host cannot meet, naming them.
Abilities only some drivers have are small protocols of their own, checked with
isinstance: `SpansHosts` (networks that join the hosts of a cluster: a slice of the
subnet per host, and plans for the other members), `Uplinks` (a network that takes
over a host NIC) and `Tunnels` (a network carried between hosts in a tunnel, wired
from the cluster's endpoint registry).
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.network.model import Endpoint, Network, Peer, RemoteEndpoint, SubnetConfig
from fabric.plan import Plan

Scope = Literal["local", "global"]

ENTRY_POINT_GROUP = "fabric.drivers"


@runtime_checkable
class NetworkDriver(Protocol):
    name: str
    scope: Scope
    requires: frozenset[str]

    def validate(self, options: Mapping[str, str]) -> Any:
        """Turn `-o key=value` options into the driver's frozen config, or raise
        InvalidArgument naming the bad option. Pure: no kernel, no store."""

    def plan_create(self, net: Network) -> Plan: ...

    def plan_delete(self, net: Network) -> Plan: ...

    def plan_join(self, net: Network, ep: Endpoint, netns_path: str) -> Plan: ...

    def plan_leave(self, net: Network, ep: Endpoint, netns_path: str,
                   sandbox_ending: bool = False) -> Plan:
        """`sandbox_ending`: the namespace is destroyed right after this plan runs (its
        container stopped and nothing else lives in it), so the kernel removes what is
        in it, veth pairs with an end there included; plan only what outlives it."""

    def firewall_facts(self, net: Network, endpoints: Sequence[Endpoint]
                       ) -> FirewallFacts | None:
        """What the firewall must know of `net`, whose endpoints on this host are
        `endpoints`; None when the driver leaves the firewall out (its network gets
        no rules, and publishing a port on it is refused). Pure."""


@runtime_checkable
class SpansHosts(Protocol):
    """A driver whose networks may join the hosts of a cluster. Such a network is
    global: its record lives in the cluster store, each member host holds a slice of
    its subnet (fabric/network/slicing.py), and each is wired to the others by the
    peer plans, which the network core runs as members come and go (shared.py)."""

    def spans_hosts(self, config: Any) -> bool:
        """Does a network with this config join hosts? (Global-scope drivers: always;
        the bridge driver: with an uplink, where the host shares a cluster store.)"""

    def host_ipam(self, config: Any, whole: SubnetConfig, piece: str) -> SubnetConfig:
        """What this host hands out on the network, given its slice `piece` of the
        subnet: the slice as a subnet of its own behind a gateway of its own (routed),
        or the whole subnet with the slice as its address range (one L2 segment)."""

    def plan_peer_join(self, net: Network, peer: Peer) -> Plan:
        """What this host needs to reach the containers of another member. Idempotent:
        run again for every member whenever members change (and at daemon start)."""

    def plan_peer_leave(self, net: Network, peer: Peer) -> Plan:
        """Undo plan_peer_join for a member that left (or moved); best effort."""


@runtime_checkable
class Uplinks(Protocol):
    """A driver whose networks may take over a host NIC (the bridge's -o uplink=eth0).
    The network core records the NIC's addresses, routes and MAC as it finds them
    before the network is made (Network.uplink), so the plans that move them to the
    network and back are pure and survive a daemon restart."""

    def uplink(self, config: Any) -> str | None: ...


@runtime_checkable
class Tunnels(Protocol):
    """A global driver that carries its containers' frames to the other member hosts
    in a tunnel (the mesh driver's VXLAN), one address pool across them. Each
    endpoint of such a network is published in the cluster store's endpoint registry
    with the tunnel end it sits behind, and every member host programs the others'
    endpoints with the plans below as the registry changes (registry.py). A network
    has a tunnel id of its own across the cluster (a VNI), and each host records its
    underlay NIC when it joins (Network.tunnel_id, Network.underlay)."""

    def tunnel_id(self, config: Any) -> int | None:
        """The tunnel id the options ask for; None: the lowest free of tunnel_ids()."""

    def tunnel_ids(self) -> range: ...

    def vtep_mac(self, net: Network) -> str:
        """This host's tunnel device's MAC, published beside each of its endpoints."""

    def plan_remote_join(self, net: Network, ep: RemoteEndpoint) -> Plan:
        """What this host needs to reach a container on another host, with nothing
        flooded. Idempotent: run again for every remote endpoint at daemon start."""

    def plan_remote_leave(self, net: Network, ep: RemoteEndpoint) -> Plan:
        """Undo plan_remote_join for an endpoint gone (or moved); best effort."""


# --- the registry ----------------------------------------------------------------------

def _instantiate(ep) -> NetworkDriver:
    return ep.load()()


Factory = Callable[[], NetworkDriver]


class DriverRegistry:
    """Installed drivers by name. One per host context, never a module global, so
    tests and lab hosts each get their own."""

    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}
        self._drivers: dict[str, NetworkDriver] = {}

    def register(self, name: str, factory: Factory) -> None:
        if name in self._factories:
            raise Conflict(f"network driver {name!r} is registered twice")
        self._factories[name] = factory

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> "DriverRegistry":
        from importlib.metadata import entry_points

        reg = cls()
        for ep in entry_points(group=group):
            # the entry point names a class; load and instantiate only when used
            reg.register(ep.name, functools.partial(_instantiate, ep))
        return reg

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> NetworkDriver:
        drv = self._drivers.get(name)
        if drv is not None:
            return drv
        factory = self._factories.get(name)
        if factory is None:
            raise InvalidArgument(
                f"unknown network driver {name!r} (installed: {', '.join(self.names()) or 'none'})")
        drv = factory()
        # a plugin is third-party code: check it speaks the API before trusting it
        if not isinstance(drv, NetworkDriver):
            raise InvalidArgument(f"network driver {name!r} does not implement the driver API")
        if drv.scope not in ("local", "global"):
            raise InvalidArgument(f"network driver {name!r} has bad scope {drv.scope!r}")
        self._drivers[name] = drv
        return drv

    def __contains__(self, name: str) -> bool:
        return name in self._factories
