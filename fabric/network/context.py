"""The host a network core serves, as one typed value the engine builds and passes down.

A host is a network namespace, a state root and its daemon (ARCHITECTURE.md, "Hosts").
What the network core needs to know of it sits here rather than in keyword arguments
threaded through constructors: the host's name, its root, the namespace that stands
for "the host" (None: the process's own, which is a daemon's case; in-process tests
and tools name another), its underlay address, its installed drivers, the cluster
store it shares with other hosts and what it offers drivers (`requires`).

A host alone has neither an underlay address nor a cluster store. A lab's hosts get
both from their settings (`cluster-store`, `cluster-advertise`), and the daemon builds
the store (fabric/cluster) before the context; the network core only sees the
protocol below.
"""

import json
from dataclasses import dataclass
from typing import Protocol

from fabric.errors import InvalidArgument
from fabric.network.driver import DriverRegistry
from fabric.network.model import Peer
from fabric.network.store import NetworkRecords
from fabric.ovs import daemons as ovs_daemons
from fabric.paths import HostRoot

LOCAL = "local"                 # the machine itself, when its root has no host.json
CLUSTER_STORE = "cluster-store"  # a capability: the host shares a cluster store
UNDERLAY = "underlay"           # a capability: other hosts know where to reach this one
OVS = "ovs"                     # a capability: Open vSwitch is installed (fabric/ovs)
# what a host lacking a capability is told, where the capability's name says too little
LACKING = {OVS: ovs_daemons.MISSING}


class ClusterStore(Protocol):
    """The store the hosts of a cluster share: an embedded one for the hosts of one
    machine (labs), etcd for hosts on several (overlays); fabric/cluster implements it.

    A global network's record lives in `networks`. Each host that joins it gets a
    slice of its subnet (`join`), and the network's members are every host holding a
    slice; the host keeps its own copy of the record and its slice in its own store
    (shared.py), so it rebuilds its kernel side without the cluster store. Addresses
    on global networks are leased here, so no address is handed out twice across
    hosts (allocator.SharedAllocator); the endpoints themselves are recorded in each
    host's own store, beside the local ones."""

    @property
    def networks(self) -> NetworkRecords: ...

    def join(self, network_id: str, host: str, *, subnet: str, host_prefix: int | None,
             pinned: str | None = None) -> str:
        """This host's slice of the network (the one it has, when it joined before):
        `pinned`, or the lowest free /`host_prefix` of `subnet`; "" with no
        `host_prefix` (a network not sliced, whose members share one pool). NotFound
        when the network is not in the store; Conflict when `pinned` overlaps another
        host's slice or none is left."""

    def leave(self, network_id: str, host: str) -> None:
        """Give the host's slice and its leases back; the last member to leave takes
        the network's record with it. Already gone is success."""

    def members(self, network_id: str) -> list[Peer]:
        """Every host holding a slice of the network, with its underlay address."""

    def lease(self, network_id: str, address: str, holder: dict) -> bool:
        """Take `address` (no prefix) on the network for `holder` (who and what:
        host, container, endpoint); False when it is taken."""

    def release(self, network_id: str, address: str) -> None: ...

    def leased(self, network_id: str) -> list[str]:
        """Every address taken on the network, on every host, the hosts' own included."""

    # --- the endpoint registry (registry.py): the leases with what stands behind them -

    def endpoints(self, network_id: str) -> list["Registered"]:
        """Every lease on the network, with its value and the revision that wrote it."""

    def publish(self, network_id: str, address: str, entry: dict) -> bool:
        """Record `entry` as the lease of `address` when it is free or this host's own
        (`entry["host"]`); False when another host holds it."""

    def peers(self) -> list[dict]:
        """Every host that shares the store: {"host", "underlay", "joined", "seen"}."""

    # --- the hosts each member wants its tunnels to reach (connect/forget) ---------

    def connections(self, network_id: str) -> dict[str, dict]:
        """host -> {"host", "wanted", "by", "since"}: the hosts the members were told to
        connect to (wanted) or to forget (not wanted); a member not named here is
        connected."""

    def set_connection(self, network_id: str, host: str, wanted: bool, by: str) -> None: ...


@dataclass(frozen=True)
class Registered:
    """An entry of the endpoint registry as the store holds it."""
    key: str            # the store key it is recorded under
    revision: int       # the store revision that last wrote it
    value: dict


@dataclass(frozen=True)
class HostContext:
    name: str                   # "local", or the host's registered name ("lab1.h1")
    root: HostRoot
    drivers: DriverRegistry
    netns: str | None = None    # None: the process's own namespace
    underlay: str | None = None  # the address other hosts reach this one at
    cluster: ClusterStore | None = None
    capabilities: frozenset[str] = frozenset()  # what drivers may require

    @classmethod
    def load(cls, root: HostRoot, drivers: DriverRegistry, *, netns: str | None = None,
             cluster: ClusterStore | None = None,
             underlay: str | None = None) -> "HostContext":
        """The context of the host whose root this is; what it offers follows from
        what it has."""
        offers = {CLUSTER_STORE} if cluster is not None else set()
        if underlay is not None:
            offers.add(UNDERLAY)
        if ovs_daemons.installed():
            offers.add(OVS)
        return cls(name=host_name(root), root=root, drivers=drivers, netns=netns,
                   underlay=underlay, cluster=cluster, capabilities=frozenset(offers))


def host_name(root: HostRoot) -> str:
    """The name in `<root>/host.json`, written by the host module when it makes a
    host; without the file the root is the machine's own: "local"."""
    try:
        with open(root.host_file) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return LOCAL
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read {root.host_file}: {e}") from e
    name = doc.get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"{root.host_file}: no host name in it")
    return name
