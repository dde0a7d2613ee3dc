"""Local IPAM: subnets for new networks, and addresses for endpoints (IPv4).

Defaults, chosen to stay clear of Docker on the same machine:

- the default bridge `fabric0` gets 10.88.0.0/16 (Docker's docker0 has 172.17.0.0/16);
- user-defined networks get the first free /24 of 10.90.0.0/15, then of 10.92.0.0/14
  (Docker carves 172.18-31.0.0/16 and 192.168.0.0/16; 10.90-10.95 stays clear of those
  and of Kubernetes' usual 10.96.0.0/12 service range).

"Free" means overlapping no other network of this host and no route the host already
has (a LAN, a VPN), as Docker checks. Ranges no container can use are refused
outright (multicast, loopback, link-local, 0.0.0.0/8, 240.0.0.0/4): Docker accepts
them, and every container started on such a network then fails.

A network may have several subnets (`--subnet A --subnet B`, as Docker keeps them):
automatic addresses come from the first until it is full, then from the next; an
--ip from the one that holds it. Everything here is pure: the caller passes what
is in use, and persists the result in the store inside the same transaction it read
the used addresses in.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress, IPNetwork

from fabric.errors import Conflict, InvalidArgument
from fabric.network.model import SubnetConfig

DEFAULT_BRIDGE_SUBNET = "10.88.0.0/16"


@dataclass(frozen=True)
class Pool:
    base: str                   # a CIDR to carve
    size: int                   # prefix length of each subnet carved from it


DEFAULT_POOLS: tuple[Pool, ...] = (Pool("10.90.0.0/15", 24), Pool("10.92.0.0/14", 24))

UNUSABLE = (("0.0.0.0/8", "this network"), ("127.0.0.0/8", "loopback"),
            ("169.254.0.0/16", "link-local"), ("224.0.0.0/4", "multicast"),
            ("240.0.0.0/4", "reserved"))


@dataclass(frozen=True)
class InUse:
    """A subnet something already occupies, and what, for the error message."""
    subnet: str
    owner: str                  # e.g. "network web" or "host route on eth0"


def parse_address(text: str, what: str = "address") -> IPAddress:
    try:
        ip = IPAddress(text)
    except (AddrFormatError, ValueError, TypeError) as e:
        raise InvalidArgument(f"invalid {what} {text!r}") from e
    if ip.version != 4:
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 is supported")
    return ip


def parse_subnet(text: str, what: str = "subnet") -> IPNetwork:
    if "/" not in str(text):
        raise InvalidArgument(f"invalid {what} {text!r}: expected a CIDR such as 10.1.0.0/24")
    try:
        net = IPNetwork(text)
    except (AddrFormatError, ValueError, TypeError) as e:
        raise InvalidArgument(f"invalid {what} {text!r}") from e
    if net.version != 4:
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 is supported")
    if net.ip != net.network:
        # Docker refuses host bits too; silently masking them hides a typo
        raise InvalidArgument(f"invalid {what} {text}: it should be {net.cidr}")
    return net


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return a.first <= b.last and b.first <= a.last


def _conflict(net: IPNetwork, in_use: Iterable[InUse]) -> InUse | None:
    for used in in_use:
        if overlaps(net, IPNetwork(used.subnet)):
            return used
    return None


def choose_subnet(in_use: Iterable[InUse], pools: Iterable[Pool] = DEFAULT_POOLS) -> IPNetwork:
    used = [IPNetwork(u.subnet) for u in in_use]
    for pool in pools:
        for cand in IPNetwork(pool.base).subnet(pool.size):
            if not any(overlaps(cand, u) for u in used):
                return cand
    raise Conflict("no free subnet left in the default address pools; pass --subnet")


def build(subnet: str | None = None, gateway: str | None = None,
          ip_range: str | None = None, *, in_use: Iterable[InUse] = (),
          pools: Iterable[Pool] = DEFAULT_POOLS) -> SubnetConfig:
    """Validate a network's --subnet/--gateway/--ip-range (all optional) into a
    SubnetConfig: one clear error for the first thing wrong."""
    in_use = list(in_use)
    if subnet is None:
        if gateway or ip_range:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        net = choose_subnet(in_use, pools)
    else:
        net = parse_subnet(subnet)
        for base, what in UNUSABLE:
            if overlaps(net, IPNetwork(base)):
                raise InvalidArgument(f"subnet {net} overlaps {base} ({what}): containers "
                                      "cannot use it")
        clash = _conflict(net, in_use)
        if clash is not None:
            raise Conflict(f"subnet {net} overlaps with {clash.owner} ({clash.subnet})")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {net} is too small: at most /30")
    gw = _gateway(net, gateway)
    rng = None
    if ip_range:
        r = parse_subnet(ip_range, "ip range")
        if not (net.first <= r.first and r.last <= net.last):
            raise InvalidArgument(f"ip range {r} is not inside subnet {net}")
        rng = str(r)
    return SubnetConfig(str(net), str(gw), rng)


def build_all(wanted: Sequence[Mapping[str, str | None]] = (), *,
              in_use: Iterable[InUse] = (), pools: Iterable[Pool] = DEFAULT_POOLS
              ) -> list[SubnetConfig]:
    """A network's subnets from Docker's IPAM.Config entries ({"Subnet", "Gateway",
    "IPRange"}, each optional): one chosen from the pools when none is given."""
    given = [parse_subnet(s) for w in wanted if (s := w.get("Subnet"))]
    for i, a in enumerate(given):
        for b in given[i + 1:]:
            if overlaps(a, b):
                raise InvalidArgument("multiple overlapping subnet configuration is not "
                                      f"allowed: {a} and {b}")
    used, out = list(in_use), []
    for w in wanted or [{}]:
        cfg = build(w.get("Subnet") or None, w.get("Gateway") or None,
                    w.get("IPRange") or None, in_use=used, pools=pools)
        used.append(InUse(cfg.subnet, "another subnet of this network"))
        out.append(cfg)
    return out


def holding(cfgs: Sequence[SubnetConfig], address: str) -> SubnetConfig | None:
    """The subnet an address (with or without its prefix) lies in."""
    ip = IPAddress(address.split("/")[0])
    return next((c for c in cfgs if ip in IPNetwork(c.subnet)), None)


def _gateway(net: IPNetwork, gateway: str | None) -> IPAddress:
    if gateway is None:
        return IPAddress(net.first + 1)
    gw = parse_address(gateway, "gateway")
    if gw not in net:
        raise InvalidArgument(f"gateway {gw} is outside subnet {net}")
    if int(gw) in (net.first, net.last):
        raise InvalidArgument(f"gateway {gw} is the network or broadcast address of {net}")
    return gw


def from_bip(bip: str, fixed_cidr: str | None = None) -> SubnetConfig:
    """Docker's --bip (the bridge's own address with prefix, e.g. 192.168.5.1/24) and
    --fixed-cidr (the part containers get addresses from)."""
    try:
        iface = IPNetwork(bip)
    except (AddrFormatError, ValueError, TypeError) as e:
        raise InvalidArgument(f"invalid bip {bip!r}") from e
    if "/" not in bip or iface.version != 4:
        raise InvalidArgument(f"invalid bip {bip!r}: expected an IPv4 address with prefix")
    net = iface.cidr
    return build(str(net), str(iface.ip), fixed_cidr)


def reserved(cfg: SubnetConfig) -> set[int]:
    net = IPNetwork(cfg.subnet)
    return {net.first, net.last, int(IPAddress(cfg.gateway))}


def check_requested(cfg: SubnetConfig, ip: IPAddress, where: str = "") -> None:
    """Refuse a requested address (--ip) no container may have, naming what it is."""
    net = IPNetwork(cfg.subnet)
    if ip not in net:
        raise InvalidArgument(f"address {ip} is outside subnet {net}{where}")
    if int(ip) in (net.first, net.last):
        what = "network" if int(ip) == net.first else "broadcast"
        raise InvalidArgument(f"address {ip} is the {what} address of subnet {net}{where}")
    if ip == IPAddress(cfg.gateway):
        raise Conflict(f"address {ip} is the gateway of subnet {net}{where}")


def allocate(cfg: SubnetConfig, used: Iterable[str], requested: str | None = None,
             *, network_name: str = "") -> str:
    """An address for a new endpoint, as a CIDR with the subnet's prefix.

    `requested` (--ip) may be anywhere in the subnet, as in Docker; automatic
    addresses come from the ip range, lowest free first."""
    net = IPNetwork(cfg.subnet)
    taken = {int(IPAddress(u.split("/")[0])) for u in used} | reserved(cfg)
    where = f" on network {network_name}" if network_name else ""
    if requested:
        ip = parse_address(requested, "address")
        check_requested(cfg, ip, where)
        if int(ip) in taken:
            raise Conflict(f"address {ip} is already in use{where}")
        return f"{ip}/{net.prefixlen}"
    rng = IPNetwork(cfg.ip_range) if cfg.ip_range else net
    for value in range(rng.first, rng.last + 1):
        if value not in taken and net.first < value < net.last:
            return f"{IPAddress(value)}/{net.prefixlen}"
    raise Conflict(f"no free address left in {rng}{where}")


def allocate_in(cfgs: Sequence[SubnetConfig], used: Iterable[str],
                requested: str | None = None, *, network_name: str = "") -> str:
    """`allocate` over a network's subnets: a requested address in the one holding it,
    otherwise the first subnet with one free."""
    used = list(used)
    if requested:
        cfg = holding(cfgs, str(parse_address(requested, "address")))
        if cfg is None and len(cfgs) > 1:
            where = f" of network {network_name}" if network_name else ""
            raise InvalidArgument(f"address {requested} is outside subnets "
                                  f"{', '.join(c.subnet for c in cfgs)}{where}")
        return allocate(cfg or cfgs[0], used, requested, network_name=network_name)
    for cfg in cfgs[:-1]:
        try:
            return allocate(cfg, used, network_name=network_name)
        except Conflict:
            continue   # full: the next one
    return allocate(cfgs[-1], used, network_name=network_name)


def mac_from_ip(ip: str) -> str:
    """02:42 followed by the IPv4 address, as Docker derives container MACs: locally
    administered, unicast, and stable for an address."""
    octets = parse_address(ip.split("/")[0]).words
    return "02:42:" + ":".join(f"{o:02x}" for o in octets)


def parse_mac(text: str) -> str:
    parts = text.strip().lower().replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise InvalidArgument(f"invalid MAC address {text!r}")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {text!r}: it is a multicast address")
    return ":".join(parts)
