"""What the engine asks of the network core, and what it gets back: plain values.

The engine turns its container documents into these (fabric/engine/network_requests.py);
the network core records what it needs of them on each endpoint and never reads a
container document.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Ports = dict   # Docker's NetworkSettings.Ports: {"80/tcp": [{"HostIp", "HostPort"}] | None}


@dataclass(frozen=True)
class Member:
    """A container as the network core records it on each of its endpoints: what its
    peers' /etc/hosts lines, link pairs and link variables need of it."""
    container_id: str
    name: str                   # without Docker's leading "/"
    hostname: str
    links: tuple[tuple[str, str], ...] = ()           # its --link options: (target name, alias)
    exposed: tuple[tuple[str, int, int], ...] = ()    # its exposed ports: (proto, first, last)


@dataclass(frozen=True)
class EndpointRequest:
    network: str                # network id
    ip: str | None = None       # --ip
    mac: str | None = None      # --mac-address
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Publish:
    """-p/-P, as Docker's API carries them."""
    exposed: tuple[str, ...] = ()    # ExposedPorts keys: "80/tcp"
    bindings: Mapping[str, Sequence[Mapping[str, str]]] = field(default_factory=dict)
    all_exposed: bool = False        # -P

    def wanted(self) -> bool:
        """Does it publish anything at all?"""
        return bool(self.bindings) or (self.all_exposed and bool(self.exposed))


@dataclass(frozen=True)
class AttachRequest:
    member: Member
    netns: str                  # the container's namespace
    endpoints: tuple[EndpointRequest, ...]   # eth0, eth1... in this order
    publish: Publish = Publish()


@dataclass(frozen=True)
class Membership:
    """A container's networks as its document records them, for the endpoint reconcile
    at daemon start (reconcile.py): the document is the truth it makes the store and
    the kernel match."""
    member: Member
    running: bool               # running or paused: its endpoints must be there
    netns: str | None           # its own namespace, when it has one
    networks: tuple[EndpointRequest, ...] = ()   # networks of the core's it is on, eth0's first
    shown: Mapping[str, str] = field(default_factory=dict)  # network id -> address inspect shows
    ports: Ports = field(default_factory=dict)   # its published ports, as resolved at start


@dataclass(frozen=True)
class Reconciled:
    endpoints: dict[str, dict[str, dict]]   # container id -> network id -> endpoint record
    affected: frozenset[str]    # containers whose endpoints, or whose peers', changed


@dataclass(frozen=True)
class Attached:
    endpoints: dict[str, dict]  # network id -> endpoint record
    ports: Ports
    affected: frozenset[str]    # other attached containers whose /etc/hosts changed


@dataclass(frozen=True)
class Connected:
    endpoint: dict
    affected: frozenset[str]


@dataclass(frozen=True)
class Detached:
    affected: frozenset[str]
    errors: tuple[str, ...] = ()   # what could not be undone; the rest was
