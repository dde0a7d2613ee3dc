"""Check a FirewallIntent before anything is rendered or applied.

Pure: no kernel access, so the network core can validate a change (and the CLI can
reject a bad user rule) before touching anything. Each problem is one clear line.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall.intent import (
    EndpointIntent,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)
from fabric.firewall.ruleset import PortRange

IFNAMSIZ = 15
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
PROTOS = ("tcp", "udp")
RULE_PROTOS = ("tcp", "udp", "icmp")
ACTIONS = ("accept", "drop", "reject")


def ifname(name: str, what: str) -> str:
    if not name or len(name) > IFNAMSIZ or "/" in name or '"' in name or name.isspace():
        raise InvalidArgument(f"{what}: bad interface name {name!r} (1-15 characters)")
    return name


def ipv4(addr: str, what: str) -> str:
    # inet_pton is strict dotted-quad and ~15x faster than ipaddress, which matters:
    # every address of every link and port is checked on every change
    try:
        socket.inet_pton(socket.AF_INET, addr)
    except (OSError, TypeError):
        raise InvalidArgument(f"{what}: {addr!r} is not an IPv4 address") from None
    return addr


def cidr(text: str, what: str) -> ipaddress.IPv4Network:
    """An IPv4 network, or a single address as /32."""
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"{what}: {text!r} is not an IPv4 address or CIDR") from None


def port(n: int, what: str) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 65535:
        raise InvalidArgument(f"{what}: port {n!r} is out of range 1-65535")
    return n


def port_range(first: int, last: int, what: str) -> None:
    port(first, what)
    port(last, what)
    if last < first:
        raise InvalidArgument(f"{what}: port range {first}-{last} is reversed")


def proto(p: str, what: str, allowed=PROTOS) -> str:
    if p not in allowed:
        raise InvalidArgument(f"{what}: protocol {p!r} (use {' or '.join(allowed)})")
    return p


def host_pairs(p: PortIntent) -> list[tuple[int, int]]:
    """(host port, container port) pairs of a published range: one to one when the
    ranges have the same length, all onto one port when the container side is one."""
    n_host = p.host_port_end - p.host_port + 1
    n_ctr = p.container_port_end - p.container_port + 1
    if n_ctr == 1:
        return [(h, p.container_port) for h in range(p.host_port, p.host_port_end + 1)]
    if n_ctr != n_host:
        raise InvalidArgument(
            f"published ports {p.host_port}-{p.host_port_end}:{p.container_port}-"
            f"{p.container_port_end}/{p.proto}: ranges differ in length")
    return [(p.host_port + i, p.container_port + i) for i in range(n_host)]


def user_rule(r: UserRule) -> None:
    what = f"firewall rule {r.id}"
    if r.action not in ACTIONS:
        raise InvalidArgument(f"{what}: action {r.action!r} (use accept, drop or reject)")
    if r.src is not None:
        cidr(r.src, what)
    if r.dst is not None:
        cidr(r.dst, what)
    if r.proto is not None:
        proto(r.proto, what, RULE_PROTOS)
    if r.dport is not None:
        if r.proto not in PROTOS:
            raise InvalidArgument(f"{what}: a destination port needs -p tcp or -p udp")
        port(r.dport, what)
    if '"' in r.comment or "\n" in r.comment:
        raise InvalidArgument(f"{what}: the comment may not contain quotes or newlines")


class Memo:
    """What checking and rendering the last intent produced, kept for the next one.

    From one change to the next nearly every intent object equals last time's, in the
    same order (the manager builds the intent from the store the same way each time).
    Walking both in step costs one comparison per object, where checking addresses and
    expanding port ranges again would cost several times that, and the renderer can
    then update its sets by what was added and removed instead of rebuilding them.
    This keeps the cost of one more link or port nearly flat (bench/firewall_bench.py).
    Updated only by `commit`, after a whole render succeeded, so a rejected intent
    leaves it as it was."""

    def __init__(self):
        # per collection: (objects, their checked and expanded forms), in intent order
        self.results: dict[str, tuple[tuple, list]] = {
            k: ((), []) for k in ("endpoints", "links", "ports")}
        # (host ip, proto, host port) -> (container, how many of its ports use it)
        self.port_owner: dict[tuple, tuple[str, int]] = {}
        self.derived: dict = {}                 # the renderer's own state

    def commit(self, checked: "Checked", derived: dict) -> None:
        self.results = {k: (c.objs, c.vals) for k, c in checked.changes.items()}
        self.port_owner = checked.port_owner
        self.derived = derived


@dataclass
class Change:
    objs: tuple     # every object of the collection, in intent order
    vals: list      # ... and its checked form
    added: list     # (object, form) not in the last intent
    removed: list   # (object, form) of the last intent, gone now


@dataclass
class Checked:
    changes: dict[str, Change]
    port_owner: dict[tuple, tuple[str, int]]


def _diff(objs: tuple, old: tuple[tuple, list], check) -> Change:
    old_objs, old_vals = old
    n = min(len(objs), len(old_objs))
    head = 0
    while head < n and objs[head] == old_objs[head]:
        head += 1
    tail = 0
    while tail < n - head and objs[-1 - tail] == old_objs[-1 - tail]:
        tail += 1
    # only the stretch between the common head and tail needs looking up; an object
    # may appear more than once (each occurrence counts, consistently, everywhere)
    mid_old: dict = {}
    for o, v in zip(old_objs[head:len(old_objs) - tail], old_vals[head:len(old_vals) - tail]):
        mid_old.setdefault(o, []).append(v)
    mid_vals, added = [], []
    for o in objs[head:len(objs) - tail]:
        vs = mid_old.get(o)
        if vs:
            v = vs.pop()
        else:
            v = check(o)
            added.append((o, v))
        mid_vals.append(v)
    removed = [(o, v) for o, vs in mid_old.items() for v in vs]
    vals = old_vals[:head] + mid_vals + old_vals[len(old_vals) - tail:]
    return Change(objs, vals, added, removed)


def network(n: NetworkIntent, taken: set[str]) -> None:
    """One network's facts; `taken` collects the interfaces of those checked before."""
    what = f"network {n.name}"
    if not n.facts.interfaces:
        raise InvalidArgument(f"{what}: its driver names no interface for the firewall")
    for i in n.facts.interfaces:
        ifname(i, what)
        if i in taken:
            raise Conflict(f"{what}: interface {i} is used by another network")
        taken.add(i)
    if n.facts.tunnel is not None:
        ifname(n.facts.tunnel, f"{what} tunnel")
        if n.facts.tunnel in taken:
            raise Conflict(f"{what}: interface {n.facts.tunnel} is used by another network")
        taken.add(n.facts.tunnel)
    for s in n.subnets + n.facts.unnatted + n.facts.span:
        cidr(s, what)
    for g in n.gateways:
        ipv4(g, f"{what} gateway")
    ipv4(n.facts.publish_ip, f"{what} publishing address")


def _endpoint(e: EndpointIntent) -> bool:
    what = f"endpoint of container {e.container_id[:12]}"
    ifname(e.host_ifname, what)
    ipv4(e.ipv4, what)
    if not _MAC.match(e.mac):
        raise InvalidArgument(f"{what}: bad MAC {e.mac!r} (lower-case aa:bb:cc:dd:ee:ff)")
    return True


def _link(link: LinkIntent) -> list[tuple]:
    what = f"link {link.consumer_ip} -> {link.target_ip}"
    ipv4(link.consumer_ip, what)
    ipv4(link.target_ip, what)
    for p, first, last in link.ports:
        proto(p, what)
        port_range(first, last, what)
    return [(link.consumer_ip, link.target_ip, p, PortRange(a, b)) for p, a, b in link.ports]


def _port(p: PortIntent) -> list[tuple]:
    what = f"published port {p.host_ip}:{p.host_port}/{p.proto}"
    proto(p.proto, what)
    host = p.host_ip or "0.0.0.0"
    ipv4(host, what)
    ipv4(p.container_ip, what)
    port_range(p.host_port, p.host_port_end, what)
    port_range(p.container_port, p.container_port_end, what)
    return [(host, p.proto, h, p.container_ip, c) for h, c in host_pairs(p)]


def intent(fi: FirewallIntent, memo: Memo | None = None) -> Checked:
    """Check everything; returns each object's checked form and what changed since
    the memo's intent (everything, without a memo). The memo itself is not touched."""
    memo = memo or Memo()
    nets = {}
    taken: set[str] = set()
    for n in fi.networks:
        network(n, taken)
        nets[n.id] = n
    changes = {name: _diff(objs, memo.results[name], check)
               for name, objs, check in (("endpoints", fi.endpoints, _endpoint),
                                         ("links", fi.links, _link),
                                         ("ports", fi.ports, _port))}
    owners: dict[str, str] = {}
    tunnels = {n.facts.tunnel for n in fi.networks if n.facts.tunnel is not None}
    for e in fi.endpoints:
        if e.network_id not in nets:
            raise InvalidArgument(f"endpoint of container {e.container_id[:12]}: "
                                  f"unknown network {e.network_id}")
        if e.host_ifname == nets[e.network_id].facts.tunnel:
            continue    # every container of the network on other hosts comes through it
        if e.host_ifname in tunnels or \
                owners.setdefault(e.host_ifname, e.container_id) != e.container_id:
            raise Conflict(f"endpoint of container {e.container_id[:12]}: interface "
                           f"{e.host_ifname} belongs to another endpoint")
    ports = changes["ports"]
    port_owner = dict(memo.port_owner)  # key -> (container, how many of its ports)
    for _p, expanded in ports.removed:
        for host, pr, h, _, _ in expanded:
            owner, n = port_owner.pop((host, pr, h))
            if n > 1:
                port_owner[(host, pr, h)] = (owner, n - 1)
    for p, expanded in ports.added:
        for host, pr, h, _, _ in expanded:
            owner, n = port_owner.get((host, pr, h), (p.container_id, 0))
            if owner != p.container_id:
                raise Conflict(f"host port {host}:{h}/{pr} is published twice "
                               f"(containers {owner[:12]} and {p.container_id[:12]})")
            port_owner[(host, pr, h)] = (owner, n + 1)
    ids = set()
    for r in fi.user_rules:
        user_rule(r)
        if r.id in ids:
            raise Conflict(f"firewall rule {r.id} appears twice")
        ids.add(r.id)
    return Checked(changes, port_owner)
