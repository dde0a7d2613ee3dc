"""The lab's own kernel changes, as plans: segments, host NICs, host routes and
impairment. Pure: these build values; deploy.py applies them (or prints them for
`lab up --dry-run`).

    host h1 (fabh-demo.h1)            segment lan (fabs-demo.lan)           host h2
    eth0 192.168.18.128/24 ──veth── h1-eth0 ┐
                                             lan (bridge)
                                   h2-eth0 ┘ ──veth── eth0 192.168.18.130/24
"""

from fabric.lab import impair, model, naming
from fabric.plan import (
    AddAddress,
    AddRoute,
    CreateVeth,
    EnsureBridge,
    LinkUp,
    Plan,
    SetMaster,
    plan,
)
from fabric.plan.ops import Op

RTPROT_BOOT = 3


def segment(lab: str, seg: model.Segment) -> Plan:
    ns = naming.segment_netns(lab, seg.name)
    br = naming.segment_bridge(seg.name)
    return plan(EnsureBridge(ns=ns, name=br, tag=naming.tag(lab, seg.name)),
                LinkUp(ns=ns, ifname=br), title=f"segment {seg.name}")


def host(lab: str, h: model.Host) -> Plan:
    """A host's NICs (each joined to its segment's bridge), its routes and the
    impairment declared on its NICs."""
    hns = naming.host_netns(lab, h.name)
    ops: list[Op] = []
    for nic in h.nics:
        ops += _nic(lab, h.name, hns, nic)
    for r in h.routes:
        # the host's own route, as `ip route add` makes it (proto boot): fabric's proto
        # 251 marks a network's routes, which the host's `fabric doctor` holds to them
        ops.append(AddRoute(ns=hns, dst=r.to, gateway=str(r.via), proto=RTPROT_BOOT))
    out = Plan(tuple(ops), title=f"host {h.name}")
    for nic in h.nics:
        if nic.impair:
            # the NIC's own egress impairs what it sends, its port's what it receives
            ends = nic_ends(lab, h.name, nic)
            ends = {"out": ends[:1], "in": ends[1:]}.get(nic.direction, ends)
            out = out + impair.plan(nic.impair, ends)
    return out


def _nic(lab: str, host: str, hns: str, nic: model.Nic) -> list[Op]:
    sns = naming.segment_netns(lab, nic.segment)
    port = naming.port(host, nic.ifname)
    ops: list[Op] = [
        CreateVeth(ns=hns, name=nic.ifname, peer=port, peer_ns=sns,
                   tag=naming.tag(lab, nic.segment)),
        SetMaster(ns=sns, ifname=port, master=naming.segment_bridge(nic.segment)),
        LinkUp(ns=sns, ifname=port),
    ]
    if nic.bridge:
        # seed 001: the NIC becomes a port of br0 and its address moves there, so the
        # host's daemon (settings `bridge: br0`) puts containers on the segment itself
        ops += [EnsureBridge(ns=hns, name=nic.bridge, tag=naming.tag(lab, host, nic.bridge)),
                SetMaster(ns=hns, ifname=nic.ifname, master=nic.bridge),
                LinkUp(ns=hns, ifname=nic.bridge)]
    ops.append(LinkUp(ns=hns, ifname=nic.ifname))
    if nic.address is not None:
        ops.append(AddAddress(ns=hns, ifname=nic.carrier, cidr=str(nic.address)))
    return ops


def nic_ends(lab: str, host: str, nic: model.Nic) -> list[impair.End]:
    return impair.nic_ends(naming.host_netns(lab, host), nic.ifname,
                           naming.segment_netns(lab, nic.segment),
                           naming.port(host, nic.ifname))


def segment_impairment(lab: model.Lab, seg: model.Segment, imp: impair.Impairment) -> Plan:
    """`imp` on every port of the segment's bridge (the egress towards each host)."""
    ports = [naming.port(h.name, n.ifname) for h in lab.hosts for n in h.nics
             if n.segment == seg.name]
    return impair.plan(imp, impair.segment_ends(naming.segment_netns(lab.name, seg.name),
                                                ports), title=f"impair segment {seg.name}")
