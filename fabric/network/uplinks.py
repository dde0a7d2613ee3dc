"""Uplinks: a host NIC a network takes over, recorded as found before it is taken.

The bridge driver's `-o uplink=eth0` makes the NIC a port of the network's bridge and
moves its addresses and routes to the bridge (seed 001 §15.1, done by hand there with
`brctl addif` and `ip addr`). What moves is read here, once, when the network is
created, and kept in the network's record: the plans that move it there and back are
then pure values (`--explain` shows the addresses), and a daemon restarting after a
crash half way still knows what was the NIC's.
"""

from fabric.errors import Conflict, NotFound
from fabric.network.model import Uplink, UplinkRoute

RTPROT_KERNEL = 2   # routes the kernel makes with an address: they move with it


def capture(netns: str | None, ifname: str, host: str) -> dict:
    """The NIC as it is now: its MAC, IPv4 addresses and the routes through it other
    than those the kernel makes for its addresses."""
    from fabric.net import addrs, links, routes, rtnl
    with rtnl.rtnl(netns) as ipr:
        link = links.get(ipr, ifname)
        if link is None:
            raise NotFound(f"uplink {ifname}: host {host} has no such interface")
        if link.master:
            master = links.by_index(ipr, link.master)
            raise Conflict(f"uplink {ifname} is a port of {master.name if master else 'a bridge'}"
                           " already")
        found = [a.cidr for a in addrs.list_addrs(ipr, ifname) if ":" not in a.address]
        # fabric's own routes too: a lab's host routes are made through plans, and a
        # routing network's peer routes are put back by its next sync anyway
        via = [r for r in routes.list_routes(ipr) if r.dev == ifname
               and r.proto != RTPROT_KERNEL]
    return {"ifname": ifname, "mac": link.mac, "addresses": found,
            "routes": [{"dst": r.dst, "gateway": r.gateway, "metric": r.metric,
                        "proto": r.proto} for r in via]}


def as_model(doc: dict | None) -> Uplink | None:
    if not doc:
        return None
    return Uplink(ifname=doc["ifname"], mac=doc["mac"], addresses=tuple(doc["addresses"]),
                  routes=tuple(UplinkRoute(r["dst"], r.get("gateway"), r.get("metric"), r["proto"])
                               for r in doc["routes"]))
