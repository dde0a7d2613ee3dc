"""IPv4/IPv6 addresses on links."""

from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.net import links
from fabric.net.errors import translate
from fabric.net.rtnl import retry


@dataclass(frozen=True)
class Address:
    ifname: str
    index: int
    address: str
    prefixlen: int

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


def _split(cidr: str) -> tuple[str, int]:
    addr, _, plen = cidr.partition("/")
    return addr, int(plen) if plen else (128 if ":" in addr else 32)


def list_addrs(ipr: IPRoute, ifname: str | None = None) -> list[Address]:
    names = {link.index: link.name for link in links.list_links(ipr)}
    out = []
    for m in retry(lambda: list(ipr.get_addr())):
        if ifname is not None and names.get(m["index"]) != ifname:
            continue
        out.append(Address(names.get(m["index"], ""), m["index"],
                           m.get("address"), m["prefixlen"]))
    return out


def has(ipr: IPRoute, ifname: str, cidr: str) -> bool:
    addr, plen = _split(cidr)
    return any(a.address == addr and a.prefixlen == plen for a in list_addrs(ipr, ifname))


def add(ipr: IPRoute, ifname: str, cidr: str) -> bool:
    """Add an address; False when the link already has exactly this one."""
    link = links.require(ipr, ifname)
    addr, plen = _split(cidr)
    try:
        retry(ipr.addr, "add", index=link.index, address=addr, prefixlen=plen)
    except NetlinkError as e:
        if e.code == 17 and has(ipr, ifname, cidr):  # EEXIST
            return False
        raise translate(e, f"ip addr add {cidr} dev {ifname}") from e
    return True


def delete(ipr: IPRoute, ifname: str, cidr: str) -> bool:
    """Remove an address; False when it (or its link) was already gone."""
    link = links.get(ipr, ifname)
    if link is None or not has(ipr, ifname, cidr):
        return False
    addr, plen = _split(cidr)
    try:
        retry(ipr.addr, "del", index=link.index, address=addr, prefixlen=plen)
    except NetlinkError as e:
        if e.code in (19, 99):  # ENODEV, EADDRNOTAVAIL: gone meanwhile
            return False
        raise translate(e, f"ip addr del {cidr} dev {ifname}") from e
    return True
