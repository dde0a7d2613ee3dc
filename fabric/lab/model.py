"""A resolved lab: frozen values, every name checked, every address parsed.

raw (the file's data) -> resolved (these values, resolve.py) -> deployed (deploy.py,
the only stage that touches the kernel). Nothing here knows about namespaces or
daemons; `naming.py` says where each thing is made.
"""

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from fabric.lab.impair import Impairment

DEFAULT_IMAGE = "busybox"
DEFAULT_NETWORK = "bridge"      # each host's own default bridge, as `fabric run` has it


@dataclass(frozen=True)
class Segment:
    name: str
    subnet: IPv4Network | None = None
    impair: Impairment = Impairment()


@dataclass(frozen=True)
class Nic:
    ifname: str                         # eth0, eth1... in the order written
    segment: str
    address: IPv4Interface | None = None
    bridge: str | None = None           # enslaved to this bridge, its address moved there
    impair: Impairment = Impairment()
    direction: str = "both"             # where `impair` applies: out, in (arriving), both

    @property
    def carrier(self) -> str:
        """The interface that holds the address: the bridge when there is one."""
        return self.bridge or self.ifname


@dataclass(frozen=True)
class Route:
    to: str                             # "default" or a CIDR
    via: IPv4Address


@dataclass(frozen=True)
class Rule:
    """A user firewall rule on a host; src and dst are still as written (a container,
    a host or an address), resolved to addresses once the lab is up."""
    action: str                         # drop, reject, accept
    proto: str | None = None
    dport: int | None = None
    src: str | None = None
    dst: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class Remote:
    """A host on another machine: its daemon's URL and the folder of the TLS files
    (ca.pem, cert.pem, key.pem) that reach it."""
    url: str                            # tcp://ADDR:PORT
    cert_path: str                      # absolute


@dataclass(frozen=True)
class Host:
    name: str
    nics: tuple[Nic, ...] = ()
    settings: tuple[tuple[str, str | int | bool], ...] = ()
    routes: tuple[Route, ...] = ()
    slices: tuple[tuple[str, IPv4Network], ...] = ()     # (network, slice) as pinned
    firewall: tuple[Rule, ...] = ()
    # the daemon's API settings (hosts, tlsverify, tlscacert...), paths made absolute
    api: tuple[tuple[str, str | bool | tuple[str, ...]], ...] = ()
    # on another machine: its NICs, routes and settings are that machine's own,
    # checked by `lab up` and never made
    remote: Remote | None = None

    def nic(self, ifname: str) -> Nic | None:
        return next((n for n in self.nics if n.ifname == ifname), None)

    @property
    def underlay(self) -> IPv4Interface | None:
        """The first NIC's address: what other hosts reach this one at."""
        return next((n.address for n in self.nics if n.address is not None), None)

    def slice(self, network: str) -> IPv4Network | None:
        return dict(self.slices).get(network)


@dataclass(frozen=True)
class Network:
    name: str
    driver: str = "bridge"
    subnet: IPv4Network | None = None
    gateway: IPv4Address | None = None
    ip_range: IPv4Network | None = None
    options: tuple[tuple[str, str], ...] = ()
    hosts: tuple[str, ...] = ()         # members, in file order
    # each member's slice of the subnet (pinned or handed out in file order), for the
    # drivers that slice a lab-wide subnet per host; empty for local networks
    slices: tuple[tuple[str, IPv4Network], ...] = ()
    pinned: tuple[str, ...] = ()        # the hosts whose slice the file pins

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)

    def slice_of(self, host: str) -> IPv4Network | None:
        return dict(self.slices).get(host)


@dataclass(frozen=True)
class Attachment:
    network: str
    ip: IPv4Address | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Build:
    """A lab container's image built from a Dockerfile (Docker's build options)."""
    context: str                        # absolute
    dockerfile: str | None = None       # as given, relative to the context (None: Dockerfile)
    args: tuple[tuple[str, str], ...] = ()
    target: str = ""


@dataclass(frozen=True)
class Healthcheck:
    """Docker's Config.Healthcheck: Test as the API has it, durations in nanoseconds."""
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Container:
    name: str
    host: str
    image: str = DEFAULT_IMAGE
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()           # "KEY=value"
    links: tuple[str, ...] = ()         # "NAME[:ALIAS]", Docker's --link
    ports: tuple[str, ...] = ()         # Docker's -p specs
    expose: tuple[str, ...] = ()
    networks: tuple[Attachment, ...] = ()   # empty: the host's default bridge
    hostname: str | None = None
    cap_add: tuple[str, ...] = ()
    build: Build | None = None          # `image` is then the name of what it builds
    healthcheck: Healthcheck | None = None
    wait: str | None = None             # "healthy": up and test wait until it is

    @property
    def network_names(self) -> tuple[str, ...]:
        return tuple(a.network for a in self.networks) or (DEFAULT_NETWORK,)


@dataclass(frozen=True)
class Expectation:
    src: str                            # as written: a container or a host
    dst: str                            # as written: NAME, NAME@NET, HOST:IF or an address
    proto: str = "icmp"
    port: int | None = None
    expect: str = "ok"
    timeout: float = 1.0
    within: float = 10.0
    nbytes: int | None = None
    status: int | None = None
    path: str = "/"
    via: tuple[str, ...] = ()
    index: int = 0                      # its place in `expect:`, for errors


@dataclass(frozen=True)
class ClusterStore:
    """The store the lab's hosts share (clusterstore.py)."""
    kind: str = "sqlite"                # the embedded one, or "etcd"
    segment: str | None = None          # etcd: the segment it sits on, at `address`
    address: IPv4Interface | None = None


@dataclass(frozen=True)
class Lab:
    name: str
    file: str                           # the lab file, as given
    sha256: str
    segments: tuple[Segment, ...] = ()
    hosts: tuple[Host, ...] = ()
    networks: tuple[Network, ...] = ()
    containers: tuple[Container, ...] = ()
    expect: tuple[Expectation, ...] = ()
    description: str = ""
    cluster: ClusterStore = ClusterStore()

    def host(self, name: str) -> Host | None:
        return next((h for h in self.hosts if h.name == name), None)

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)

    def network(self, name: str) -> Network | None:
        return next((n for n in self.networks if n.name == name), None)

    def segment(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def on_segment(self, name: str) -> list[Host]:
        return [h for h in self.hosts if any(n.segment == name for n in h.nics)]

    def made_here(self, seg: Segment) -> bool:
        """Is the segment a bridge made on this machine? Not when its hosts are on other
        machines: it is then their own network, described and never made."""
        return not any(h.remote for h in self.on_segment(seg.name))

    def containers_on(self, host: str) -> list[Container]:
        return [c for c in self.containers if c.host == host]
