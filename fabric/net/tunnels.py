"""Tunnel devices, the interface a packet leaves by, and where a veth's other end is:
what `fabric doctor` reads of a namespace beyond links and routes.
"""

import os
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.net import links
from fabric.net.rtnl import retry

# Bytes each kind adds around a frame (or packet) it carries, outer IPv4: VXLAN and
# Geneve 14 (inner Ethernet) + 8 + 8 (UDP) + 20; gretap 14 + 4 + 20 (+4 with a key,
# as Open vSwitch's GRE ports have); gre and ipip carry packets, no inner Ethernet.
OVERHEAD = {"vxlan": 50, "geneve": 50, "gretap": 38, "gre": 24, "ipip": 20}


@dataclass(frozen=True)
class Tunnel:
    name: str
    kind: str
    mtu: int
    alias: str | None
    lower: str | None       # the interface it sends through, when it is bound to one
    local: str | None       # the underlay address it sends from


def tunnels(ipr: IPRoute) -> list[Tunnel]:
    names = {link.index: link.name for link in links.list_links(ipr)}
    out = []
    for m in retry(lambda: list(ipr.get_links())):
        kind = m.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
        if kind not in OVERHEAD:
            continue
        data = m.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
        prefix = "IFLA_VXLAN_" if kind == "vxlan" else "IFLA_GENEVE_" \
            if kind == "geneve" else "IFLA_GRE_" if kind.startswith("gre") else "IFLA_IPTUN_"
        lower = data.get(prefix + "LINK") if data else None
        local = data.get(prefix + "LOCAL") if data else None
        out.append(Tunnel(m.get("ifname"), kind, m.get("mtu"), m.get("ifalias") or None,
                          names.get(lower) if lower else None, local))
    return out


def route_dev(ipr: IPRoute, dst: str) -> str | None:
    """The interface the kernel sends a packet for `dst` out of (`ip route get`)."""
    try:
        msgs = retry(ipr.route, "get", dst=dst)
    except NetlinkError:
        return None     # unreachable
    oif = msgs[0].get("RTA_OIF") if msgs else None
    link = links.by_index(ipr, oif) if oif else None
    return link.name if link else None


def veth_peers(ipr: IPRoute) -> dict[str, int]:
    """Veths whose other end is in another namespace: name -> that namespace's id as
    this one knows it (IFLA_LINK_NETNSID)."""
    out = {}
    for m in retry(lambda: list(ipr.get_links())):
        nsid = m.get("IFLA_LINK_NETNSID")
        if nsid is not None and m.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "veth":
            out[m.get("ifname")] = nsid
    return out


def nsid_of(ipr: IPRoute, path: str) -> int | None:
    """The id this namespace knows the namespace at `path` by; None when it has none
    (nothing links the two)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        got = ipr.get_netnsid(fd=fd)
    except NetlinkError:
        return None
    finally:
        os.close(fd)
    nsid = got.get("nsid") if got else None
    return nsid if nsid is not None and nsid >= 0 else None
