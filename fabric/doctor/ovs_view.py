"""The host's own Open vSwitch, read once through OVSDB (never `ovs-vsctl` output):
bridges and ports with fabric's marks, tunnel ports with their type and options, and
the NIC the userspace datapath's underlay bridge took over."""

import os
from dataclasses import dataclass, field

from fabric.ovs import daemons, underlay
from fabric.ovs import db as ovsdb


@dataclass(frozen=True)
class Port:
    name: str
    bridge: str
    ids: dict                   # external_ids
    kind: str = ""              # Interface type: "" (system), "internal", "gre", "vxlan"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    bridges: dict[str, dict]    # name -> external_ids
    ports: list[Port]
    nic: str | None             # the NIC under the underlay bridge (userspace datapath)


def read(root: str) -> View | None:
    """None when the host runs no Open vSwitch of its own."""
    inst = daemons.Instance(os.path.join(root, "ovs"))
    if not inst.running():
        return None
    db = ovsdb.Ovsdb(inst.remote)
    try:
        ifaces = {r["name"]: r for r in db.rows("Interface")}
        ports = {r["_uuid"]: r for r in db.rows("Port")}
        bridges, out = {}, []
        for br in db.rows("Bridge"):
            bridges[br["name"]] = dict(br.get("external_ids") or {})
            for uuid in br.get("ports") or ():
                p = ports.get(uuid)
                if p is None or p["name"] == br["name"]:
                    continue    # the bridge's own internal port
                i = ifaces.get(p["name"]) or {}
                out.append(Port(p["name"], br["name"], dict(p.get("external_ids") or {}),
                                i.get("type") or "", dict(i.get("options") or {})))
        nic = (underlay.recorded(db) or {}).get("nic")
    finally:
        db.close()
    return View(bridges, out, nic)
