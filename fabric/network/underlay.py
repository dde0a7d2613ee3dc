"""A host's underlay NIC, recorded when the host joins a network its driver tunnels.

The address is the host's `cluster-advertise`; the interface holding it and that
interface's MTU are read here, once, and kept in the host's own row of the network
(`underlay`), so the tunnel's plans stay pure (the VXLAN device is made `local
ADDRESS dev IFNAME`, its MTU the NIC's less the encapsulation) and a daemon
restarting rebuilds the same device without looking again.
"""

from fabric.errors import InvalidArgument, NotFound
from fabric.network.model import Underlay


def capture(netns: str | None, address: str | None, host: str) -> dict:
    if not address:
        raise InvalidArgument(f"host {host} has no underlay address (set cluster-advertise "
                              "in its settings)")
    from fabric.net import addrs, links, rtnl
    with rtnl.rtnl(netns) as ipr:
        for a in addrs.list_addrs(ipr):
            if a.address == address:
                link = links.require(ipr, a.ifname)
                return {"address": address, "ifname": a.ifname, "mtu": link.mtu}
    raise NotFound(f"host {host} has no interface holding its underlay address {address} "
                   "(cluster-advertise)")


def as_model(doc: dict | None) -> Underlay | None:
    if not doc:
        return None
    return Underlay(address=doc["address"], ifname=doc["ifname"], mtu=int(doc["mtu"]))
