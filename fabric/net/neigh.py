"""Neighbour (ARP/NDP) entries and the bridge forwarding database.

Multi-host drivers program both from the endpoint registry, so that a VXLAN device
knows where each remote MAC lives and which MAC answers each remote IP, and nothing
has to be flooded.
"""

from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.net import links
from fabric.net.errors import translate
from fabric.net.rtnl import retry

NUD_PERMANENT = 0x80
NTF_SELF = 0x02
NTF_MASTER = 0x04


@dataclass(frozen=True)
class Neighbour:
    dev: str
    ip: str
    mac: str | None
    permanent: bool


@dataclass(frozen=True)
class FdbEntry:
    dev: str
    mac: str
    dst: str | None         # remote VTEP for a VXLAN device
    master: bool            # entry in the bridge's table rather than the device's own


def list_neighbours(ipr: IPRoute, dev: str | None = None) -> list[Neighbour]:
    names = {link.index: link.name for link in links.list_links(ipr)}
    out = []
    for m in retry(lambda: list(ipr.get_neighbours())):
        name = names.get(m["ifindex"], "")
        if dev is None or name == dev:
            out.append(Neighbour(name, m.get("dst"), m.get("lladdr"),
                                 bool(m["state"] & NUD_PERMANENT)))
    return out


def add_neighbour(ipr: IPRoute, dev: str, ip: str, mac: str) -> bool:
    """A permanent entry; False when exactly this one was already there."""
    for n in list_neighbours(ipr, dev):
        if n.ip == ip and n.mac == mac.lower() and n.permanent:
            return False
    link = links.require(ipr, dev)
    try:
        # replace, not add: a stale incomplete entry for the IP must not block us
        retry(ipr.neigh, "replace", dst=ip, lladdr=mac, ifindex=link.index,
              state=NUD_PERMANENT)
    except NetlinkError as e:
        raise translate(e, f"ip neigh replace {ip} lladdr {mac} dev {dev}") from e
    return True


def del_neighbour(ipr: IPRoute, dev: str, ip: str) -> bool:
    link = links.get(ipr, dev)
    if link is None or not any(n.ip == ip for n in list_neighbours(ipr, dev)):
        return False
    try:
        retry(ipr.neigh, "del", dst=ip, ifindex=link.index)
    except NetlinkError as e:
        if e.code in (2, 19):
            return False
        raise translate(e, f"ip neigh del {ip} dev {dev}") from e
    return True


def list_fdb(ipr: IPRoute, dev: str | None = None) -> list[FdbEntry]:
    names = {link.index: link.name for link in links.list_links(ipr)}
    out = []
    for m in retry(lambda: list(ipr.fdb("dump"))):
        name = names.get(m["ifindex"], "")
        if dev is None or name == dev:
            # entries of a bridge's own table carry NDA_MASTER (`bridge fdb` prints
            # "master br0"); the device's own entries do not
            out.append(FdbEntry(name, m.get("lladdr"), m.get("dst"),
                                bool(m.get("NDA_MASTER"))))
    return out


def _fdb_matches(e: FdbEntry, mac: str, dst: str | None, master: bool) -> bool:
    return e.mac == mac.lower() and e.dst == dst and e.master == master


def add_fdb(ipr: IPRoute, dev: str, mac: str, *, dst: str | None = None,
            master: bool = False) -> bool:
    """Append a static FDB entry (append, so several remote VTEPs may share the
    all-zero MAC for broadcast); False when it is already there."""
    if any(_fdb_matches(e, mac, dst, master) for e in list_fdb(ipr, dev)):
        return False
    link = links.require(ipr, dev)
    spec: dict = {"ifindex": link.index, "lladdr": mac, "state": NUD_PERMANENT,
                  "flags": NTF_MASTER if master else NTF_SELF}
    if dst:
        spec["dst"] = dst
    try:
        retry(ipr.fdb, "append", **spec)
    except NetlinkError as e:
        raise translate(e, f"bridge fdb append {mac} dev {dev}") from e
    return True


def del_fdb(ipr: IPRoute, dev: str, mac: str, *, dst: str | None = None,
            master: bool = False) -> bool:
    link = links.get(ipr, dev)
    if link is None or not any(_fdb_matches(e, mac, dst, master) for e in list_fdb(ipr, dev)):
        return False
    spec: dict = {"ifindex": link.index, "lladdr": mac,
                  "flags": NTF_MASTER if master else NTF_SELF}
    if dst:
        spec["dst"] = dst
    try:
        retry(ipr.fdb, "del", **spec)
    except NetlinkError as e:
        if e.code in (2, 19):
            return False
        raise translate(e, f"bridge fdb del {mac} dev {dev}") from e
    return True
