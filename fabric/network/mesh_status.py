"""`fabric mesh status`: a mesh network as this host sees it, in the spirit of weave's.

The peers and the state of each connection (established, unreachable, forgotten,
pending), the tunnel, the one address pool and who holds what in it, the names the
network's containers resolve; and the programmed state: each FDB and neighbour entry
this host holds for another host's container, from which store record (key and
revision) and since when, checked against the kernel (present or MISSING), with any
entry on the tunnel no record explains (stray). Plain data; the CLI prints it.
"""

from fabric.network import registry
from fabric.network.meshes import Meshes


def report(meshes: Meshes) -> list[dict]:
    return [_one(meshes, doc) for doc in meshes.networks()]


def _one(meshes: Meshes, doc: dict) -> dict:
    svc = meshes.svc
    cluster = svc.cluster()
    me = svc.host.name
    facts = svc.facts(doc)
    bridge = facts.interfaces[0] if facts else None
    tunnel = facts.tunnel if facts else None
    entries = cluster.endpoints(doc["id"])
    sub = (doc.get("ipam") or [{}])[0]
    kernel = _kernel(svc.host.netns, tunnel, bridge, sub.get("subnet"))
    return {"Network": doc["name"], "Id": doc["id"], "VNI": doc.get("tunnel_id"),
            "Subnet": sub.get("subnet"), "Gateway": sub.get("gateway"), "Host": me,
            "Underlay": doc.get("underlay"), "VtepMac": svc.vtep(doc)[1],
            "Bridge": bridge, "Tunnel": {"Name": tunnel, **kernel["device"]},
            "Peers": _peers(meshes, doc, entries), "Ranges": _ranges(entries),
            "Names": _names(svc, doc),
            "Programmed": _programmed(doc, kernel, tunnel) + kernel["routes"],
            "Stray": _stray(doc, kernel, tunnel)}


def _peers(meshes: Meshes, doc: dict, entries) -> list[dict]:
    cluster = meshes.svc.cluster()
    me = meshes.svc.host.name
    conns = cluster.connections(doc["id"])
    members = {m.host: m for m in cluster.members(doc["id"]) if m.host != me}
    counts: dict[str, int] = {}
    for r in entries:
        counts[r.value.get("host")] = counts.get(r.value.get("host"), 0) + 1
    up = meshes.reachable(sorted({m.underlay for h, m in members.items() if m.underlay
                                  and conns.get(h, {}).get("wanted", True)}))
    mine = conns.get(me, {})
    out = []
    for host in sorted(set(members) | {h for h, c in conns.items() if h != me}):
        c = conns.get(host, {})
        m = members.get(host)
        if not mine.get("wanted", True):
            state, by = "forgotten", mine
        elif not c.get("wanted", True):
            state, by = "forgotten", c
        elif m is None:
            state, by = "pending (not launched)", c
        else:
            state, by = ("established" if up.get(m.underlay or "") else "unreachable"), c
        out.append({"Host": host, "Underlay": m.underlay if m else None, "State": state,
                    "By": by.get("by"), "Since": by.get("since"),
                    "Endpoints": counts.get(host, 0)})
    return out


def _ranges(entries) -> list[dict]:
    held: dict[str, list[str]] = {}
    for r in entries:
        held.setdefault(r.value.get("host", "?"), []).append(r.key.rsplit("/", 1)[-1])
    return [{"Host": h, "Count": len(a), "Addresses": sorted(a, key=_ip_key)}
            for h, a in sorted(held.items())]


def _names(svc, doc: dict) -> list[dict]:
    out = [{"Name": e.get("container_name"), "Aliases": e.get("aliases") or [],
            "Address": e["address"], "Mac": e["mac"], "Host": svc.host.name}
           for e in svc.records.endpoints(network_id=doc["id"]) if e.get("address")]
    out += [{"Name": r.name, "Aliases": list(r.aliases), "Address": r.address, "Mac": r.mac,
             "Host": r.host} for r in registry.programmed(doc)]
    return sorted(out, key=lambda n: _ip_key(n["Address"]))


def _programmed(doc: dict, kernel: dict, tunnel: str | None) -> list[dict]:
    out = []
    for rec in registry.programmed_records(doc):
        r = registry.as_remote(rec)
        where = {"Endpoint": r.name, "Host": r.host, "Key": rec["key"],
                 "Revision": rec["revision"], "Since": rec["since"]}
        out.append({"Kind": "fdb", "Present": (r.mac, r.vtep) in kernel["fdb"],
                    "Entry": f"{r.mac} dev {tunnel} dst {r.vtep} self static", **where})
        out.append({"Kind": "neigh", "Present": (r.ip, r.mac) in kernel["neigh"],
                    "Entry": f"{r.ip} lladdr {r.mac} dev {tunnel} nud permanent", **where})
    return out


def _stray(doc: dict, kernel: dict, tunnel: str | None) -> list[str]:
    """Entries on the tunnel no record of this host explains."""
    mine = registry.programmed(doc)
    fdb = {(r.mac, r.vtep) for r in mine}
    nbr = {(r.ip, r.mac) for r in mine}
    return [f"fdb {mac} dev {tunnel} dst {dst}" for mac, dst in sorted(kernel["fdb"] - fdb)] + \
        [f"neigh {ip} lladdr {mac} dev {tunnel}" for ip, mac in sorted(kernel["neigh"] - nbr)]


def _ip_key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("/")[0].split("."))


def _kernel(netns: str | None, tunnel: str | None, bridge: str | None,
            subnet: str | None) -> dict:
    """What the kernel holds: the tunnel device, its FDB entries with a destination
    and its permanent neighbours, the route to the subnet."""
    from fabric.net import links, neigh, routes, rtnl, vxlan
    out: dict = {"device": {"Present": False}, "fdb": set(), "neigh": set(), "routes": []}
    if tunnel is None:
        return out
    with rtnl.rtnl(netns) as ipr:
        dev = vxlan.get(ipr, tunnel)
        link = links.get(ipr, tunnel)
        if dev is not None and link is not None:
            out["device"] = {"Present": True, "VNI": dev.vni, "Port": dev.port,
                             "Local": dev.local, "Learning": dev.learning,
                             "Proxy": dev.proxy, "MTU": link.mtu, "Up": link.up}
        fdb = [e for e in neigh.list_fdb(ipr, tunnel) if e.dst and not e.master]
        neighbours = [n for n in neigh.list_neighbours(ipr, tunnel) if n.permanent]
        on_link = [r for r in routes.list_routes(ipr) if r.dst == subnet and r.dev == bridge]
    out["fdb"] = {(e.mac, e.dst) for e in fdb}
    out["neigh"] = {(n.ip, n.mac) for n in neighbours}
    out["routes"] = [{"Kind": "route", "Present": True, "Entry": f"{r.dst} dev {r.dev}",
                      "Endpoint": "every endpoint: one segment, no route per peer",
                      "Host": None, "Key": None, "Revision": None, "Since": None}
                     for r in on_link]
    return out
