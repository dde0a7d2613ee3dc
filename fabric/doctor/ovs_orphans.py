"""Open vSwitch bridges and ports with fabric's marks (external_ids) that nothing in
the store owns: a bridge of no network, a container's port of no endpoint, a tunnel
port to a host that is no longer a peer of its network. fabric's: `--fix` removes
them, through the same plan steps as a network's teardown (which delete only a row
carrying exactly these marks)."""

from fabric.doctor import ovs_view
from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.ovs import db as ovsdb
from fabric.plan.ovs_ops import DeleteOvsBridge, DeleteOvsPort


def _marks(ids: dict) -> ovsdb.Ids:
    return tuple(sorted((k, v) for k, v in ids.items() if k.startswith("fabric-")))


def check(scene: Scene) -> list[Finding]:
    view = ovs_view.read(scene.root)
    if view is None:
        return []
    nets = {d["id"]: d for d in scene.networks}
    peers = {net.id: {p.host for p in net.peers} for _, net in scene.models()}
    endpoints = {e["id"] for e in scene.endpoints}
    out = []
    gone = set()
    for name, ids in view.bridges.items():
        nid = ids.get(ovsdb.NETWORK)
        if nid is not None and nid not in nets:
            gone.add(name)
            op = DeleteOvsBridge(name, _marks(ids))
            out.append(Finding("orphan-ovs", f"Open vSwitch bridge {name} is marked for "
                               f"network {nid[:12]}, which this host does not know",
                               op.describe(), repair=scene.repairing(op, f"remove {name}")))
    for p in view.ports:
        nid = p.ids.get(ovsdb.NETWORK)
        if nid is None or p.bridge in gone:
            continue    # not fabric's, or it goes with its bridge
        why = None
        ep, peer = p.ids.get(ovsdb.ENDPOINT), p.ids.get(ovsdb.PEER)
        if ep is not None and ep not in endpoints:
            why = f"marked for endpoint {ep[:12]}, which the store does not hold"
        elif peer is not None and peer not in peers.get(nid, set()):
            why = f"a tunnel to {peer}, no longer a peer of network {nets[nid]['name']}" \
                if nid in nets else f"a tunnel of network {nid[:12]}, unknown here"
        if why:
            port = DeleteOvsPort(p.name, _marks(p.ids))
            out.append(Finding("orphan-ovs", f"Open vSwitch port {p.name} on {p.bridge} is "
                               f"{why}", port.describe(),
                               repair=scene.repairing(port, f"remove {p.name}")))
    return out

