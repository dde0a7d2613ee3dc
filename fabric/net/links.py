"""Links: bridges, veth pairs, masters, state, MTU, MAC and the ownership tag.

Ownership lives in the interface alias (`ip link set dev X alias fabric:<id>`): unlike
an altname it need not be unique, any link type accepts it, and it survives renames.
Leaks are found by that tag (see `tagged`), never by a name pattern.
"""

from dataclasses import dataclass, replace

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.errors import InvalidArgument, NotFound
from fabric.net import netns
from fabric.net.errors import translate
from fabric.net.rtnl import retry

TAG_PREFIX = "fabric:"
IFNAMSIZ = 15  # usable characters of an interface name (16 with the NUL)
IFF_UP = 1


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str | None        # "bridge", "veth", "vxlan"... None for lo/physical
    mtu: int
    mac: str | None
    up: bool                # administratively up (IFF_UP)
    master: int | None      # index of the bridge it is enslaved to
    alias: str | None       # fabric's ownership tag lives here
    altnames: tuple[str, ...] = ()

    @property
    def tagged(self) -> bool:
        return bool(self.alias and self.alias.startswith(TAG_PREFIX))


def _parse(msg) -> Link:
    props = msg.get("IFLA_PROP_LIST")
    alts = tuple(v for k, v in props["attrs"] if k == "IFLA_ALT_IFNAME") if props else ()
    return Link(
        index=msg["index"],
        name=msg.get("ifname"),
        kind=msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
        mtu=msg.get("mtu"),
        mac=msg.get("address"),
        up=bool(msg["flags"] & IFF_UP),
        master=msg.get("master") or None,
        alias=msg.get("ifalias") or None,
        altnames=alts,
    )


def valid_name(name: str) -> bool:
    return 0 < len(name) <= IFNAMSIZ and not any(c in name for c in "/: \t\n") \
        and name not in (".", "..")


# --- the per-session link cache ---------------------------------------------------
# A `rtnl.Session` socket carries `fabric_links`: name -> Link for every link looked up
# or changed through this module during one plan, so a plan of seven steps asks the
# kernel about each link once instead of once per helper call (each round trip through
# pyroute2's sync API costs about 1 ms here). Sockets opened otherwise have no cache
# and every call asks the kernel, as before.

_FRESH = "fabric_fresh"   # names of links this session created (kernel defaults known)


def _cache(ipr) -> dict | None:
    return getattr(ipr, "fabric_links", None)


def _remember(ipr, link: Link) -> Link:
    c = _cache(ipr)
    if c is not None:
        c[link.name] = link
    return link


def _forget(ipr, name: str) -> None:
    c = _cache(ipr)
    if c is not None:
        c.pop(name, None)
        fresh = getattr(ipr, _FRESH, None)
        if fresh is not None:
            fresh.discard(name)


def _update(ipr, link: Link, **changes) -> None:
    if _cache(ipr) is not None:
        _remember(ipr, replace(link, **changes))


def fresh(ipr, name: str) -> bool:
    """True when this session created the link, so its settings are the kernel's
    defaults plus what this session set (e.g. hairpin is off)."""
    return name in (getattr(ipr, _FRESH, None) or ())


def _mark_fresh(ipr, name: str) -> None:
    if _cache(ipr) is None:
        return
    f = getattr(ipr, _FRESH, None)
    if f is None:
        f = set()
        setattr(ipr, _FRESH, f)
    f.add(name)


def get(ipr: IPRoute, name: str) -> Link | None:
    c = _cache(ipr)
    if c is not None and c.get(name) is not None:
        return c[name]
    try:
        msgs = retry(ipr.link, "get", ifname=name)
    except NetlinkError as e:
        if e.code == 19:  # ENODEV
            return None
        raise translate(e, f"ip link show {name}") from e
    if not msgs:
        return None
    return _remember(ipr, _parse(msgs[0]))


def by_index(ipr: IPRoute, index: int) -> Link | None:
    for link in (_cache(ipr) or {}).values():
        if link is not None and link.index == index:
            return link
    try:
        msgs = retry(ipr.link, "get", index=index)
    except NetlinkError as e:
        if e.code == 19:
            return None
        raise translate(e, f"ip link show index {index}") from e
    return _remember(ipr, _parse(msgs[0])) if msgs else None


def require(ipr: IPRoute, name: str) -> Link:
    link = get(ipr, name)
    if link is None:
        raise NotFound(f"interface {name} does not exist")
    return link


def list_links(ipr: IPRoute) -> list[Link]:
    return [_parse(m) for m in retry(lambda: list(ipr.get_links()))]


def tagged(ipr: IPRoute, tag: str = TAG_PREFIX) -> list[Link]:
    """Links whose ownership tag starts with `tag` (default: everything fabric's)."""
    return [link for link in list_links(ipr) if link.alias and link.alias.startswith(tag)]


def members(ipr: IPRoute, bridge: Link) -> list[Link]:
    return [link for link in list_links(ipr) if link.master == bridge.index]


def _do(what: str, fn, *args, **kwargs):
    try:
        return retry(fn, *args, **kwargs)
    except NetlinkError as e:
        raise translate(e, what) from e


def add_bridge(ipr: IPRoute, name: str, *, mtu: int | None = None,
               mac: str | None = None, alias: str | None = None) -> Link:
    _check_name(name)
    spec: dict = {"ifname": name, "kind": "bridge"}
    if mtu:
        spec["mtu"] = mtu
    if mac:
        # A bridge otherwise takes the lowest MAC of its ports, changing address
        # whenever a container comes or goes, which flushes every neighbour's ARP.
        spec["address"] = mac
    _do(f"ip link add {name} type bridge", ipr.link, "add", **spec)
    _forget(ipr, name)
    _mark_fresh(ipr, name)
    return _tag_new(ipr, name, alias)


def add_veth(ipr: IPRoute, name: str, peer: str, peer_ns: str | None, *,
             mtu: int | None = None, mac: str | None = None, peer_mac: str | None = None,
             alias: str | None = None) -> Link:
    """A veth pair whose peer is born inside `peer_ns`, so it never appears in ours
    and can never collide with (or be mistaken for) one of our interfaces."""
    _check_name(name)
    _check_name(peer)
    peer_spec: dict = {"ifname": peer}
    if peer_ns is not None:
        peer_spec["net_ns_fd"] = netns.require(peer_ns)
    if mtu:
        peer_spec["mtu"] = mtu
    if peer_mac:
        peer_spec["address"] = peer_mac
    spec: dict = {"ifname": name, "kind": "veth", "peer": peer_spec}
    if mtu:
        spec["mtu"] = mtu
    if mac:
        spec["address"] = mac
    _do(f"ip link add {name} type veth peer name {peer}", ipr.link, "add", **spec)
    _forget(ipr, name)
    _mark_fresh(ipr, name)
    return _tag_new(ipr, name, alias)


def _tag_new(ipr: IPRoute, name: str, alias: str | None) -> Link:
    """Tag a link just created. RTM_NEWLINK ignores IFLA_IFALIAS, so the tag takes a
    second request; should it fail, the untagged link is removed rather than left."""
    if alias:
        try:
            set_alias(ipr, name, alias)
        except BaseException:
            delete(ipr, name)
            raise
    return require(ipr, name)


def delete(ipr: IPRoute, name: str) -> bool:
    """Delete a link; False when it was already gone."""
    link = get(ipr, name)
    if link is None:
        return False
    _forget(ipr, name)
    try:
        retry(ipr.link, "del", index=link.index)
    except NetlinkError as e:
        if e.code == 19:
            return False
        raise translate(e, f"ip link del {name}") from e
    return True


def set_master(ipr: IPRoute, name: str, master: str | None) -> None:
    link = require(ipr, name)
    idx = require(ipr, master).index if master else 0
    _do(f"ip link set dev {name} master {master}", ipr.link, "set",
        index=link.index, master=idx)
    _update(ipr, link, master=idx or None)


def set_up(ipr: IPRoute, name: str, up: bool = True) -> None:
    link = require(ipr, name)
    _do(f"ip link set dev {name} {'up' if up else 'down'}", ipr.link, "set",
        index=link.index, state="up" if up else "down")
    _update(ipr, link, up=up)


def set_mtu(ipr: IPRoute, name: str, mtu: int) -> None:
    link = require(ipr, name)
    _do(f"ip link set dev {name} mtu {mtu}", ipr.link, "set", index=link.index, mtu=mtu)
    _update(ipr, link, mtu=mtu)


def set_mac(ipr: IPRoute, name: str, mac: str) -> None:
    link = require(ipr, name)
    _do(f"ip link set dev {name} address {mac}", ipr.link, "set",
        index=link.index, address=mac)
    _forget(ipr, name)  # the kernel's spelling of the address: asked again if needed


def set_alias(ipr: IPRoute, name: str, alias: str) -> None:
    link = require(ipr, name)
    # An empty alias clears it (the kernel treats a zero-length IFLA_IFALIAS so).
    _do(f"ip link set dev {name} alias {alias}", ipr.link, "set",
        index=link.index, ifalias=alias)
    _update(ipr, link, alias=alias or None)


def set_hairpin(ipr: IPRoute, name: str, on: bool = True) -> None:
    """Let a bridge port send a frame back out of the port it came in on, which a
    container reaching itself through a published port (hairpin NAT) needs."""
    link = require(ipr, name)
    _do(f"bridge link set dev {name} hairpin {'on' if on else 'off'}", ipr.brport,
        "set", index=link.index, mode=1 if on else 0)
    if fresh(ipr, name):
        hp = getattr(ipr, "fabric_hairpin", None)
        if hp is None:
            hp = set()
            ipr.fabric_hairpin = hp
        (hp.add if on else hp.discard)(name)


def hairpin(ipr: IPRoute, name: str) -> bool:
    link = require(ipr, name)
    if fresh(ipr, name):
        # made by this session: still as the kernel makes a port, hairpin off (unless
        # this session turned it on, which set_hairpin records)
        return name in (getattr(ipr, "fabric_hairpin", None) or ())
    for msg in retry(lambda: list(ipr.brport("dump"))):
        if msg["index"] == link.index:
            return bool(msg.get_nested("IFLA_PROTINFO", "IFLA_BRPORT_MODE"))
    return False


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise InvalidArgument(f"bad interface name {name!r}: 1 to {IFNAMSIZ} characters, "
                       "no '/', ':' or spaces")
