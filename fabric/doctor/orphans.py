"""Kernel objects with fabric's tags that nothing in the store owns any more.

Found by their tag and checked against the records, never by a name alone:

- interfaces whose alias is `fabric:<network>` of no network of this host, or
  `fabric:<network>:<endpoint>` of no endpoint (a veth a killed daemon or a crash
  left; the endpoint reconcile at daemon start removes these too, doctor finds the
  ones left since);
- routes of fabric's protocol (251) that are neither through a network's own interface
  nor to a slice of a peer of a network the hosts share;
- container namespaces (`fabc-<id>`) a veth tagged for one of this host's networks
  leads into (the kernel's link between the two namespaces, IFLA_LINK_NETNSID) while
  no container of this root has that id. A namespace nothing of this host's leads into
  may be another root's (several roots share /run/netns) and is left alone.

All are fabric's: `--fix` removes them.
"""

import functools

from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.net import links, netns, routes, rtnl, tunnels
from fabric.plan import DeleteLink, DelRoute

TAG = "fabric:"
CONTAINER_NS = "fabc-"


def _owner(scene: Scene, alias: str) -> str | None:
    """Why an interface tagged `alias` has no owner; None when it has one."""
    parts = alias[len(TAG):].split(":")
    nets = {d["id"][:12]: d for d in scene.networks}
    if parts[0] not in nets:
        return f"tagged for network {parts[0]}, which this host does not know"
    if len(parts) > 1 and parts[1] not in {e["id"][:12] for e in scene.endpoints
                                           if e["network_id"][:12] == parts[0]}:
        return (f"tagged for an endpoint of network {nets[parts[0]]['name']} that the store "
                "does not hold")
    return None


def interfaces(scene: Scene) -> list[Finding]:
    with rtnl.rtnl(scene.netns) as ipr:
        found = links.tagged(ipr, TAG)
    out = []
    for link in found:
        why = _owner(scene, link.alias or "")
        if why is not None:
            op = DeleteLink(link.name, tag=link.alias)
            out.append(Finding("orphan-interface", f"interface {link.name} ({link.kind or 'link'}) "
                               f"is {why}", scene.describe(op),
                               repair=scene.repairing(op, f"remove {link.name}")))
    return out



def route_owned(scene: Scene, r: routes.Route, own: set[str]) -> bool:
    if r.dev in own:
        return True
    for _, net in scene.models():
        if any(p.subnet == r.dst for p in net.peers) or r.dst in net.span:
            return True
    return False


def stray_routes(scene: Scene) -> list[Finding]:
    own = scene.own_interfaces()
    with rtnl.rtnl(scene.netns) as ipr:
        ours = [r for r in routes.list_routes(ipr) if r.proto == routes.RTPROT_FABRIC]
    out = []
    for r in ours:
        if route_owned(scene, r, own):
            continue
        op = DelRoute(r.dst, gateway=r.gateway, dev=r.dev, proto=routes.RTPROT_FABRIC)
        out.append(Finding("orphan-route", scene.words.describe_route(r.dst, r.gateway, r.dev,
                                                                       r.proto),
                           scene.describe(op), repair=scene.repairing(op, f"remove route {r.dst}")))
    return out


def namespaces(scene: Scene) -> list[Finding]:
    with rtnl.rtnl(scene.netns) as ipr:
        tagged = {link.name for link in links.tagged(ipr, TAG)}
        leads = {nsid for name, nsid in tunnels.veth_peers(ipr).items() if name in tagged}
        if not leads:
            return []
        candidates = [n for n in netns.list_named() if n.startswith(CONTAINER_NS)]
        tied = [n for n in candidates if tunnels.nsid_of(ipr, netns.path(n)) in leads]
    out = []
    for name in tied:
        cid = name[len(CONTAINER_NS):]
        if any(c.startswith(cid) for c in scene.containers):
            continue
        out.append(Finding("orphan-netns", f"namespace {name} holds the other end of one of "
                           f"this host's tagged veths, and no container {cid} of this root "
                           "is there", f"ip netns del {name}",
                           repair=functools.partial(netns.remove, name)))
    return out
