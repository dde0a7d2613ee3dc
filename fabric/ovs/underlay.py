"""The userspace datapath's underlay bridge: how OVS sends its own GRE and VXLAN here.

With the `netdev` datapath OVS builds tunnel packets itself and must send them through
one of its bridges: it routes the outer packet with the kernel's routes (which it
mirrors) and needs the route's device to be an OVS bridge whose ports reach the wire.
So, as OVS's documentation sets up `br-phy` for DPDK, the host's underlay NIC becomes
a port of a bridge of its own, `fabric-ul`, and the NIC's addresses and routes move to
the bridge's internal port; the bridge takes the NIC's MAC, so the LAN's neighbours
keep theirs. The NIC gets another MAC and ignores ARP, so the kernel leaves the frames
that now belong to the bridge alone (it still sees them on the NIC: the packet socket
OVS reads does not take them away).

What the NIC had is recorded in the bridge's own row (external_ids `fabric-underlay`),
taken when the first tunnel needs it (the NIC is the one the route to a peer leaves
by), and put back on the NIC when the host's last ovs network goes. Recorded in OVSDB,
it also tells a restarted OVS (whose internal port comes back bare) what to put back.
With the kernel datapath none of this happens: the kernel routes the tunnels itself.
"""

import hashlib
import json

from fabric.errors import FabricError
from fabric.net import addrs, links, routes, sysctl
from fabric.ovs import db as ovsdb

BRIDGE = "fabric-ul"
RTPROT_KERNEL = 2       # routes the kernel makes with an address: they move with it
ARP_IGNORE_ALL = "8"    # reply to no ARP request on this interface


def recorded(db: ovsdb.Ovsdb) -> dict | None:
    row = db.row("Bridge", BRIDGE)
    if row is None:
        return None
    text = (row.get("external_ids") or {}).get(ovsdb.UNDERLAY)
    return json.loads(text) if text else None


def nic_toward(ipr, address: str) -> str | None:
    """The interface the kernel sends to `address` through."""
    got = ipr.route("get", dst=address)
    oif = got[0].get_attr("RTA_OIF") if got else None
    link = links.by_index(ipr, oif) if oif else None
    return link.name if link else None


def nic_mac(mac: str) -> str:
    """The NIC's own MAC while the bridge has its old one: derived, locally administered."""
    h = hashlib.sha256(mac.encode()).hexdigest()
    return "0e:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


def capture(ipr, nic: str) -> dict:
    link = links.require(ipr, nic)
    found = [a.cidr for a in addrs.list_addrs(ipr, nic) if ":" not in a.address]
    via = [r for r in routes.list_routes(ipr) if r.dev == nic and r.proto != RTPROT_KERNEL]
    return {"nic": nic, "mac": link.mac, "addresses": found,
            "routes": [[r.dst, r.gateway, r.metric, r.proto] for r in via]}


def take(db: ovsdb.Ovsdb, ipr, ns: str | None, toward: str) -> dict | None:
    """The NIC that reaches `toward` made a port of the underlay bridge, its addresses
    and routes moved there; None when that is so already (what a restarted OVS lost is
    put back)."""
    rec = recorded(db)
    if rec is not None:
        _place(ipr, BRIDGE, rec)
        return None
    nic = nic_toward(ipr, toward)
    if nic is None:
        raise FabricError(f"no route to the peer {toward}: its tunnel cannot be made")
    rec = capture(ipr, nic)
    db.transact([
        db.api.add_br(BRIDGE, may_exist=True, datapath_type="netdev"),
        db.api.db_set("Bridge", BRIDGE, ("other_config", {"hwaddr": rec["mac"]}),
                      ("external_ids", {ovsdb.UNDERLAY: json.dumps(rec)})),
        db.api.add_port(BRIDGE, nic, may_exist=True),
    ])
    for dst, gw, _, proto in rec["routes"]:
        routes.delete(ipr, dst, gateway=gw, dev=nic, proto=proto)
    for cidr in rec["addresses"]:
        addrs.delete(ipr, nic, cidr)
    links.set_mac(ipr, nic, nic_mac(rec["mac"]))
    sysctl.set(sysctl.conf_key(nic, "arp_ignore"), ARP_IGNORE_ALL, ns)
    _place(ipr, BRIDGE, rec)
    return rec


def _place(ipr, dev: str, rec: dict) -> None:
    links.set_up(ipr, dev)
    for cidr in rec["addresses"]:
        addrs.add(ipr, dev, cidr)
    for dst, gw, metric, proto in rec["routes"]:
        routes.add(ipr, dst, gateway=gw, dev=dev, metric=metric, proto=proto)


def give_back(db: ovsdb.Ovsdb, ipr, ns: str | None) -> dict | None:
    """The underlay bridge removed and the NIC as it was; None when there was none."""
    rec = recorded(db)
    if rec is None:
        return None
    # the bridge's internal port takes its addresses and routes along when it goes
    db.transact([db.api.del_br(BRIDGE, if_exists=True)])
    nic = rec["nic"]
    if links.get(ipr, nic) is not None:
        sysctl.set(sysctl.conf_key(nic, "arp_ignore"), "0", ns)
        links.set_mac(ipr, nic, rec["mac"])
        _place(ipr, nic, rec)
    return rec


def describe_take(toward: str) -> list[str]:
    """The commands, with the NIC and addresses as the kernel will say at apply time."""
    return [f"NIC=$(ip -o route get {toward} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')",
            f"ovs-vsctl --may-exist add-br {BRIDGE} -- set bridge {BRIDGE} "
            "datapath_type=netdev other_config:hwaddr=$(cat /sys/class/net/$NIC/address) "
            f"-- --may-exist add-port {BRIDGE} $NIC",
            f"# the NIC's addresses and routes move to {BRIDGE}; the NIC gets another MAC "
            "and arp_ignore=8"]
