"""Networks and endpoints as drivers see them: plain frozen values.

The store keeps these as JSON documents; drivers get them whole and never read the
store themselves.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

TAG_PREFIX = "fabric:"


@dataclass(frozen=True)
class SubnetConfig:
    subnet: str                 # "10.88.0.0/16"
    gateway: str                # "10.88.0.1"
    ip_range: str | None = None  # where container addresses come from (--ip-range)

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.split("/")[1])

    @property
    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{self.prefixlen}"


@dataclass(frozen=True)
class Peer:
    """Another member host of a network the hosts of a cluster share: its slice of the
    network's subnet, and the underlay address it is reached at (None until it says)."""
    host: str
    subnet: str
    underlay: str | None = None


@dataclass(frozen=True)
class UplinkRoute:
    dst: str                    # "default" or a CIDR
    gateway: str | None = None
    metric: int | None = None
    proto: int = 3              # whose it is (3: boot, the `ip route add` default)


@dataclass(frozen=True)
class Uplink:
    """A host NIC a network takes over (the bridge driver's `-o uplink=eth0`), as it was
    before: what moves to the network's bridge, and back when the network goes."""
    ifname: str
    mac: str
    addresses: tuple[str, ...] = ()     # CIDRs
    routes: tuple[UplinkRoute, ...] = ()


@dataclass(frozen=True)
class Underlay:
    """The host NIC a tunnel rides on, as found when the host joined the network: the
    address other hosts reach this one at (`cluster-advertise`), the interface holding
    it, and its MTU (the tunnel's own is this less the encapsulation)."""
    address: str
    ifname: str
    mtu: int


@dataclass(frozen=True)
class RemoteEndpoint:
    """A container of a network on another host, as the cluster's endpoint registry
    lists it: its address and MAC, and the tunnel end (VTEP) it sits behind, that
    host's underlay address and its tunnel device's MAC."""
    id: str                     # the endpoint's id on its own host
    host: str
    container: str              # container id
    name: str                   # container name, for other containers' /etc/hosts
    address: str                # CIDR
    mac: str
    vtep: str                   # underlay address of its host
    vtep_mac: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


@dataclass(frozen=True)
class Network:
    id: str                     # 64 hex characters, like Docker's
    name: str
    driver: str
    config: Any                 # the driver's own frozen config, from validate()
    ipam: tuple[SubnetConfig, ...] = ()
    internal: bool = False
    # The manager records whether the gateway address was fabric's to add, so that
    # removing a network on a hand-made bridge leaves the user's own address alone.
    gateway_owned: bool = True
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    # A network the hosts of a cluster share: its whole subnets (`ipam` holds this
    # host's share of them), and the other member hosts it is wired to now.
    span: tuple[str, ...] = ()
    peers: tuple[Peer, ...] = ()
    uplink: Uplink | None = None    # the NIC it took over, as found
    # A network whose driver tunnels between hosts (driver.Tunnels): the id of its
    # tunnel across the cluster (a VXLAN VNI), and this host's underlay as found.
    tunnel_id: int | None = None
    underlay: Underlay | None = None

    @property
    def tag(self) -> str:
        """Ownership tag carried by every kernel object made for this network."""
        return f"{TAG_PREFIX}{self.id[:12]}"

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True)
class Endpoint:
    id: str
    network_id: str
    container_id: str
    ifname: str                 # inside the container: eth0, eth1...
    address: str                # CIDR, e.g. "10.88.0.2/16"
    mac: str
    gateway: str | None = None  # None: no default route through this network
    aliases: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]

    @property
    def host_ifname(self) -> str:
        return host_ifname(self.id)

    def tag(self, net: Network) -> str:
        return f"{net.tag}:{self.id[:12]}"


def host_ifname(endpoint_id: str) -> str:
    """Host side of an endpoint's veth: 'fv' + 11 hex characters = 13, within IFNAMSIZ.

    Derived from the endpoint id, so the name is known before anything is created and
    two endpoints never race for one name."""
    return "fv" + hashlib.sha256(endpoint_id.encode()).hexdigest()[:11]
