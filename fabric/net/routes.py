"""Routes in the main table.

Routes fabric adds carry their own protocol number (`proto 0xfb`, shown by `ip route`
as `proto 251`), so a reconcile can tell them from the kernel's and the user's without
looking at their shape.
"""

from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.net import links
from fabric.net.errors import translate
from fabric.net.rtnl import retry

RTPROT_FABRIC = 251
MAIN_TABLE = 254
RT_SCOPE_LINK = 253


@dataclass(frozen=True)
class Route:
    dst: str                # "default" or a CIDR
    gateway: str | None
    dev: str | None
    proto: int
    metric: int | None = None


def _dst_args(dst: str) -> dict:
    if dst == "default":
        return {"dst": "0.0.0.0/0"}
    return {"dst": dst if "/" in dst else f"{dst}/32"}


def list_routes(ipr: IPRoute, family: int = 2) -> list[Route]:
    names = {link.index: link.name for link in links.list_links(ipr)}
    out = []
    for m in retry(lambda: list(ipr.get_routes(family=family, table=MAIN_TABLE))):
        if m["type"] != 1:  # unicast only: not local/broadcast entries
            continue
        dst = f"{m.get('dst')}/{m['dst_len']}" if m.get("dst") else "default"
        out.append(Route(dst, m.get("gateway"), names.get(m.get("oif")), m["proto"],
                         m.get("priority")))
    return out


def _matches(r: Route, dst: str, gateway: str | None, dev: str | None,
             proto: int | None = None) -> bool:
    want = dst if dst == "default" or "/" in dst else f"{dst}/32"
    return r.dst == want and r.gateway == gateway and (dev is None or r.dev == dev) and \
        (proto is None or r.proto == proto)


def has(ipr: IPRoute, dst: str, gateway: str | None = None, dev: str | None = None,
        proto: int | None = None) -> bool:
    return any(_matches(r, dst, gateway, dev, proto) for r in list_routes(ipr))


def add(ipr: IPRoute, dst: str, *, gateway: str | None = None, dev: str | None = None,
        metric: int | None = None, proto: int = RTPROT_FABRIC) -> bool:
    """Add a route; False when exactly this route is already there."""
    spec: dict = dict(_dst_args(dst), proto=proto)
    if gateway:
        spec["gateway"] = gateway
    elif dev:
        spec["scope"] = RT_SCOPE_LINK   # as `ip route add X dev Y` does: a gateway may lie in it
    if dev:
        spec["oif"] = links.require(ipr, dev).index
    if metric is not None:
        spec["priority"] = metric
    try:
        retry(ipr.route, "add", **spec)
    except NetlinkError as e:
        if e.code == 17 and has(ipr, dst, gateway, dev):
            return False
        raise translate(e, f"ip route add {dst}") from e
    return True


def delete(ipr: IPRoute, dst: str, *, gateway: str | None = None,
           dev: str | None = None, proto: int | None = None) -> bool:
    """Remove a route; False when it was already gone. With `proto` (fabric's own:
    RTPROT_FABRIC), only a route of that protocol: the kernel matches it too."""
    if not has(ipr, dst, gateway, dev, proto):
        return False
    spec: dict = dict(_dst_args(dst))
    if proto is not None:
        spec["proto"] = proto
    if gateway:
        spec["gateway"] = gateway
    if dev:
        link = links.get(ipr, dev)
        if link is None:
            return False
        spec["oif"] = link.index
    try:
        retry(ipr.route, "del", **spec)
    except NetlinkError as e:
        if e.code in (3, 19):  # ESRCH, ENODEV: gone meanwhile
            return False
        raise translate(e, f"ip route del {dst}") from e
    return True
