"""What the firewall must enforce, as plain data rendered whole from the store.

The network manager builds one `FirewallIntent` from the store after every change and
hands it to the selected backend, which replaces fabric's own tables in one transaction.
Backends never read the store and never edit rules one by one.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NetworkIntent:
    id: str                 # network id (the store's)
    name: str
    bridge: str             # kernel bridge name, e.g. fabric0 or fab-1a2b3c4d5e
    subnets: tuple[str, ...]  # CIDRs, e.g. ("10.88.0.0/16",)
    gateways: tuple[str, ...]  # gateway addresses on the bridge
    icc: bool = True        # containers of this network may talk to each other
    internal: bool = False  # no traffic in or out of the network (Docker's --internal)
    masquerade: bool = True  # SNAT traffic leaving the host from this network


@dataclass(frozen=True)
class EndpointIntent:
    network_id: str
    container_id: str
    host_ifname: str        # host side of the veth, attached to the bridge
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
    extra: dict = field(default_factory=dict, hash=False, compare=False)
