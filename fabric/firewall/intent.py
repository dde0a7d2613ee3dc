"""What the firewall must enforce, as plain data rendered whole from the store.

The network core builds one `FirewallIntent` from its store after every change, each
network's part from the facts its driver states, and hands it to the selected
backend, which replaces fabric's own tables in one transaction. Backends never read
the store and never edit rules one by one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FirewallFacts:
    """What the firewall must know of one network, as the network's driver states it
    (`NetworkDriver.firewall_facts`); never read from one driver's own config."""
    # Host interfaces the network's containers sit behind: a bridge driver's bridge, or
    # a routing driver's per-container veths. Every rule that asks "is this fabric's
    # traffic, and of which network" matches on these.
    interfaces: tuple[str, ...]
    # The interfaces are bridges whose ports are the containers' host veths
    # (EndpointIntent.host_ifname): frames are checked per port (anti-spoofing), and
    # the iptables backend has br_netfilter hand them to iptables. False: routed
    # interfaces, one per container, seen by the inet table alone.
    bridged: bool = True
    icc: bool = True        # containers of this network may talk to each other
    masquerade: bool = True  # SNAT traffic leaving the host from this network
    # Subnets this network reaches, and is reached from, without NAT (a routing
    # driver's peer slices): neither masqueraded on the way out nor dropped coming in.
    unnatted: tuple[str, ...] = ()
    # A network spanning hosts (the routing driver's): its whole subnets, of which the
    # interfaces hold this host's slice. Traffic from them is container to container
    # of this network, from another host, so icc=false keeps it out as on one host.
    span: tuple[str, ...] = ()
    # The host address a port published without one is bound to (Docker's
    # host_binding_ipv4); the network core uses it when it chooses bindings.
    publish_ip: str = "0.0.0.0"
    # A bridge port that carries the network's containers on other hosts (a VXLAN
    # device), None without one. Frames arriving on it are checked like those of a
    # local container's port, against the remote endpoints the network core lists
    # on it (EndpointIntent.host_ifname = this port, many endpoints sharing it); with
    # none listed, nothing gets in through it. icc=false holds on it as on a veth.
    tunnel: str | None = None


@dataclass(frozen=True)
class NetworkIntent:
    id: str                 # network id (the store's)
    name: str
    facts: FirewallFacts    # what its driver says the firewall needs
    subnets: tuple[str, ...]  # CIDRs, e.g. ("10.88.0.0/16",)
    gateways: tuple[str, ...]  # gateway addresses on the bridge
    internal: bool = False  # no traffic in or out of the network (Docker's --internal)


@dataclass(frozen=True)
class EndpointIntent:
    network_id: str
    container_id: str
    host_ifname: str        # host side of the container's veth (a bridge port if bridged),
                            # or for a container on another host its network's tunnel
    ipv4: str               # address without prefix
    mac: str                # lower-case aa:bb:..


@dataclass(frozen=True)
class LinkIntent:
    """icc=false lets exactly this pair through, consumer -> target on these ports,
    replies included (conntrack)."""
    network_id: str
    consumer_ip: str
    target_ip: str
    ports: tuple[tuple[str, int, int], ...]  # (proto "tcp"|"udp", first, last)


@dataclass(frozen=True)
class PortIntent:
    """One published port range: host_ip:host_port[-end] -> container_ip:port[-end]."""
    container_id: str
    network_id: str
    proto: str              # "tcp" | "udp"
    host_ip: str            # "0.0.0.0" for every address
    host_port: int
    host_port_end: int
    container_ip: str
    container_port: int
    container_port_end: int


@dataclass(frozen=True)
class UserRule:
    """A user's rule, evaluated before fabric's own (Docker's DOCKER-USER)."""
    id: str
    action: str             # "accept" | "drop" | "reject"
    src: str | None = None  # CIDR or address
    dst: str | None = None
    proto: str | None = None  # tcp|udp|icmp
    dport: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class FirewallIntent:
    networks: tuple[NetworkIntent, ...] = ()
    endpoints: tuple[EndpointIntent, ...] = ()
    links: tuple[LinkIntent, ...] = ()
    ports: tuple[PortIntent, ...] = ()
    user_rules: tuple[UserRule, ...] = ()
    enabled: bool = True    # the `iptables` setting: False means fabric installs no rules
