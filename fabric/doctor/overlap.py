"""Routes and addresses that take a network's subnet away from it.

A network is only refused a subnet a host route or address already covers when it is
made (Networks.subnets_in_use); what comes later (a VPN, a LAN address, a route added
by hand) is found here. A route as specific as the network's own, or more, wins over
it for (part of) its containers' addresses; an address in it on another interface makes
the host answer for them there. Broader routes (a default, a /8 around a /24) lose to
the network's own route and are left alone, as are fabric's routes to other hosts'
slices and everything through the network's own interfaces.
"""

import ipaddress

from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.net import addrs, routes, rtnl

RTPROT_KERNEL = 2


def check(scene: Scene) -> list[Finding]:
    own = scene.own_interfaces()
    nets = [(n, [ipaddress.IPv4Network(s, strict=False) for s in n.subnets])
            for n in scene.intent.networks if n.facts.interfaces]
    if not nets:
        return []
    out = []
    with rtnl.rtnl(scene.netns) as ipr:
        found = routes.list_routes(ipr)
        held = [a for a in addrs.list_addrs(ipr) if ":" not in a.address]
    for r in found:
        # a kernel route (proto 2) comes with an address, reported below instead
        if r.dst == "default" or r.dev in own or r.proto == RTPROT_KERNEL:
            continue
        dst = ipaddress.IPv4Network(r.dst, strict=False)
        for n, subnets in nets:
            hit = next((s for s in subnets if dst.overlaps(s) and dst.prefixlen >= s.prefixlen),
                       None)
            if hit is None or r.proto == routes.RTPROT_FABRIC:
                continue    # fabric's own (to a peer's slice): the orphan check's business
            via = f" via {r.gateway}" if r.gateway else ""
            out.append(Finding(
                "overlap", f"route {r.dst}{via} dev {r.dev} (proto {r.proto}, not fabric's) "
                f"takes {r.dst} of network {n.name}'s {hit} away from its containers",
                f"ip route del {r.dst}{via} dev {r.dev}"))
    for a in held:
        if a.ifname in own:
            continue
        mine = ipaddress.IPv4Interface(a.cidr)
        for n, subnets in nets:
            hit = next((s for s in subnets if mine.ip in s or mine.network.overlaps(s)), None)
            if hit is not None:
                out.append(Finding(
                    "overlap", f"address {a.cidr} on {a.ifname} overlaps network {n.name}'s "
                    f"{hit}: the host answers for its containers' addresses there",
                    f"ip addr del {a.cidr} dev {a.ifname}"))
    return out
