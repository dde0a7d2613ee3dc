"""The host a network core serves, as one typed value the engine builds and passes down.

A host is a network namespace, a state root and its daemon (ARCHITECTURE.md, "Hosts").
What the network core needs to know of it sits here rather than in keyword arguments
threaded through constructors: the host's name, its root, the namespace that stands
for "the host" (None: the process's own, which is a daemon's case; in-process tests
and tools name another), its underlay address, its installed drivers, the cluster
store it shares with other hosts and what it offers drivers (`requires`).

Today every host is alone: no underlay address and no cluster store. The labs issue
fills both in for the hosts of a lab; nothing else here changes for it.
"""

import json
from dataclasses import dataclass
from typing import Protocol

from fabric.errors import InvalidArgument
from fabric.network.allocator import AddressAllocator
from fabric.network.driver import DriverRegistry
from fabric.network.store import NetworkRecords
from fabric.paths import HostRoot

LOCAL = "local"                 # the machine itself, when its root has no host.json
CLUSTER_STORE = "cluster-store"  # a capability: the host shares a cluster store


class ClusterStore(Protocol):
    """The store the hosts of a cluster share: an embedded one for the hosts of one
    machine (labs), etcd for hosts on several (overlays). A global network's record
    lives in `networks`, and its addresses come from `allocator`; its endpoints on
    this host are still recorded in this host's store, beside the local ones."""

    @property
    def networks(self) -> NetworkRecords: ...

    @property
    def allocator(self) -> AddressAllocator: ...


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
             cluster: ClusterStore | None = None) -> "HostContext":
        """The context of the host whose root this is; what it offers follows from
        what it has."""
        offers = {CLUSTER_STORE} if cluster is not None else set()
        return cls(name=host_name(root), root=root, drivers=drivers, netns=netns,
                   cluster=cluster, capabilities=frozenset(offers))


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
