"""VXLAN devices: made with learning off and ARP answered from the neighbour table.

The mesh driver's device (and anything else that tunnels containers' frames between
hosts) is made as flannel's and Docker's overlay are: `nolearning`, so the forwarding
database holds only the entries fabric programs from the cluster's endpoint registry
and a frame for a MAC it does not list is dropped, never flooded to every peer;
`proxy`, so an ARP request from a local container is answered by the device itself
from its permanent neighbour entries instead of being sent to the other hosts. With
no all-zero FDB entry there is no default destination: nothing floods.
"""

from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from fabric.errors import InvalidArgument
from fabric.net import links
from fabric.net.errors import translate
from fabric.net.rtnl import retry


@dataclass(frozen=True)
class Vxlan:
    name: str
    vni: int
    port: int               # UDP destination port
    local: str | None       # the underlay address it sends from
    link: int | None        # ifindex of the underlay interface
    learning: bool
    proxy: bool


def get(ipr: IPRoute, name: str) -> Vxlan | None:
    """The VXLAN settings of `name`; None when it is missing or not a VXLAN device."""
    link = links.get(ipr, name)
    if link is None or link.kind != "vxlan":
        return None
    msg = _do(f"ip -d link show {name}", ipr.link, "get", index=link.index)[0]
    info = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
    return Vxlan(name=name, vni=info.get("IFLA_VXLAN_ID"),
                 port=info.get("IFLA_VXLAN_PORT"), local=info.get("IFLA_VXLAN_LOCAL"),
                 link=info.get("IFLA_VXLAN_LINK") or None,
                 learning=bool(info.get("IFLA_VXLAN_LEARNING")),
                 proxy=bool(info.get("IFLA_VXLAN_PROXY")))


def _do(what: str, fn, *args, **kwargs):
    try:
        return retry(fn, *args, **kwargs)
    except NetlinkError as e:
        raise translate(e, what) from e


def add(ipr: IPRoute, name: str, *, vni: int, port: int, local: str, dev: str,
        mtu: int | None = None, mac: str | None = None, alias: str | None = None) -> None:
    """A VXLAN device sending from `local` through `dev`, learning off, ARP proxied;
    tagged with `alias`. Should the tag fail, the device is removed rather than left."""
    if not links.valid_name(name):
        raise InvalidArgument(f"bad interface name {name!r}")
    lower = links.require(ipr, dev)
    spec: dict = {"ifname": name, "kind": "vxlan", "vxlan_id": vni, "vxlan_port": port,
                  "vxlan_local": local, "vxlan_link": lower.index, "vxlan_learning": 0,
                  "vxlan_proxy": 1}
    if mtu:
        spec["mtu"] = mtu
    if mac:
        spec["address"] = mac
    _do(f"ip link add {name} type vxlan id {vni} dstport {port}", ipr.link, "add", **spec)
    if alias:
        try:
            links.set_alias(ipr, name, alias)
        except BaseException:
            links.delete(ipr, name)
            raise
