"""The network driver API.

A driver is four planners and a validator; it never touches the kernel or the store.
`validate` is pure and runs before anything is created; the `plan_*` methods return
plans the engine's applier runs (and rolls back, and explains).

Abilities only some drivers have are separate small protocols, checked with
isinstance(): peers (multi-host drivers that build tunnels or routes to other hosts),
remote endpoints (drivers that program FDB/ARP entries from the endpoint registry).
The cluster-wide services those drivers need (an endpoint registry, an address pool)
are protocols too, provided by the engine from its cluster store.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from fabric.errors import Conflict, InvalidArgument
from fabric.network.model import Endpoint, Network
from fabric.plan import Plan

Scope = Literal["local", "global"]

# What a driver may declare in `requires`; the engine refuses a driver whose needs it
# cannot meet, with a message naming them.
REQUIRES_CLUSTER_STORE = "cluster-store"
REQUIRES_OVS = "ovs"

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


# --- optional abilities --------------------------------------------------------------

@dataclass(frozen=True)
class Peer:
    """Another host of a global network, as the cluster store knows it."""
    host: str                   # host name, unique in the cluster
    underlay_ip: str            # where its tunnels end / its routes point
    subnet: str | None = None   # its slice of the network (routing drivers)
    vtep_mac: str | None = None  # its VXLAN device's MAC (mesh drivers)


@runtime_checkable
class PeerDriver(Protocol):
    """Drivers that keep a tunnel or a route per peer host (ovs, routing, mesh)."""

    def plan_peer_add(self, net: Network, peer: Peer) -> Plan: ...

    def plan_peer_remove(self, net: Network, peer: Peer) -> Plan: ...


@dataclass(frozen=True)
class EndpointRecord:
    """An endpoint as published cluster-wide."""
    network_id: str
    endpoint_id: str
    host: str
    ip: str                     # address without prefix
    mac: str
    name: str = ""              # container name, for name resolution across hosts
    aliases: tuple[str, ...] = ()


@runtime_checkable
class RemoteEndpointDriver(Protocol):
    """Drivers that program forwarding for endpoints living on other hosts
    (FDB and neighbour entries, so nothing floods)."""

    def plan_remote_add(self, net: Network, rec: EndpointRecord, peer: Peer) -> Plan: ...

    def plan_remote_remove(self, net: Network, rec: EndpointRecord, peer: Peer) -> Plan: ...


class EndpointRegistry(Protocol):
    """Cluster-wide endpoint registry (embedded SQLite for a lab, etcd for machines)."""

    def publish(self, rec: EndpointRecord) -> None: ...

    def withdraw(self, network_id: str, endpoint_id: str) -> None: ...

    def endpoints(self, network_id: str) -> list[EndpointRecord]: ...

    def watch(self, network_id: str, since: int) -> tuple[int, list[EndpointRecord]]:
        """Records changed after revision `since` (withdrawn ones with ip ""), and the
        revision to pass next time."""


class AddressPool(Protocol):
    """Cluster-wide addresses: a subnet slice per host, or one flat pool across hosts
    (weave-style), with the same errors as local IPAM."""

    def allocate_subnet(self, network_id: str, owner: str, prefixlen: int) -> str: ...

    def release_subnet(self, network_id: str, owner: str) -> None: ...

    def allocate_address(self, network_id: str, owner: str,
                         requested: str | None = None) -> str: ...

    def release_address(self, network_id: str, address: str) -> None: ...


# --- the registry ----------------------------------------------------------------------

Factory = Callable[[], NetworkDriver]


class DriverRegistry:
    """Installed drivers by name. One per engine, never a module global, so tests and
    lab hosts each get their own."""

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
            reg.register(ep.name, lambda ep=ep: ep.load()())
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
        if not isinstance(drv, NetworkDriver):
            raise InvalidArgument(f"network driver {name!r} does not implement the driver API")
        if drv.scope not in ("local", "global"):
            raise InvalidArgument(f"network driver {name!r} has bad scope {drv.scope!r}")
        self._drivers[name] = drv
        return drv

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def all(self) -> Iterable[NetworkDriver]:
        return [self.get(n) for n in self.names()]
