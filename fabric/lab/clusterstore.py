"""The cluster store a lab's hosts share: the lab file's `cluster:` key, resolved,
made by `lab up` and named in each host's settings.

    cluster: {store: sqlite}    the default: the embedded store, one SQLite file in the
                                lab's directory (cluster.db) that every host opens
    cluster: {store: etcd}      an etcd of the lab's own, as hosts on several machines
                                would share one; optional `address: A.B.C.D`

The lab's etcd runs in a namespace of its own (`fabe-<lab>`), not inside a host, so
a host can be stopped, killed or rebuilt while the store stays, as on real machines.
That namespace is joined to the lab's first segment with host addresses like a host
NIC is (a veth whose other end is a port of the segment's bridge), at `address`, by
default the highest address of that segment's subnet no host NIC has; the hosts
reach it there (hosts on other segments through their routes). Its data, pidfile and
log live in `<lab dir>/etcd/`. The namespace is recorded in lab.json before it is
made, and `lab down` removes it like a segment's, whatever runs inside, also after a
crash; the data goes with the lab's directory.
"""

import shlex
from ipaddress import IPv4Interface, ip_interface

from fabric.lab import etcd, model, naming, state
from fabric.lab.model import ClusterStore
from fabric.lab.source import Source
from fabric.net import netns as netnsmod
from fabric.plan import (
    AddAddress,
    Applier,
    Context,
    CreateVeth,
    LinkUp,
    Plan,
    SetMaster,
    TxOffloads,
    plan,
)

STORES = ("sqlite", "etcd")
ETCD_PORT = "~etcd"     # its port on the segment's bridge: no host's port has a "~"


def resolve(src: Source, raw: dict, hosts: tuple[model.Host, ...]) -> ClusterStore:
    kind = str(raw.get("store") or "sqlite")
    if kind == "sqlite":
        if "address" in raw:
            raise src.error(("cluster", "address"), "only an etcd store has an address")
        return ClusterStore()
    if not etcd.installed():
        raise src.error(("cluster", "store"), etcd.NOT_INSTALLED)
    nics = [n for h in hosts for n in h.nics if n.address is not None]
    if not nics:
        raise src.error(("cluster", "store"), "etcd needs a segment with host addresses "
                        "to sit on")
    taken = {n.address.ip for n in nics if n.address is not None}
    if "address" not in raw:
        first = nics[0]
        assert first.address is not None
        net = first.address.network
        free = [a for a in reversed(list(net.hosts())) if a not in taken]
        if not free:
            raise src.error(("cluster", "store"), f"no address left for etcd on {net}")
        return ClusterStore("etcd", first.segment, IPv4Interface(f"{free[0]}/{net.prefixlen}"))
    return _pinned(src, str(raw["address"]), nics, taken)


def _pinned(src: Source, text: str, nics: list[model.Nic], taken: set) -> ClusterStore:
    where = ("cluster", "address")
    try:
        ip = ip_interface(text.split("/")[0]).ip
    except ValueError:
        raise src.error(where, f"'{text}' is not an IPv4 address") from None
    if ip in taken:
        raise src.error(where, f"{ip} is a host's address")
    for n in nics:
        assert n.address is not None
        if ip in n.address.network:
            prefix = n.address.network.prefixlen
            return ClusterStore("etcd", n.segment, IPv4Interface(f"{ip}/{prefix}"))
    raise src.error(where, f"{ip} is on no segment a host has an address on")


def netns(lab: str) -> str:
    return f"fabe-{lab}"


def server(lab: model.Lab) -> etcd.EtcdServer:
    s = lab.cluster
    assert s.address is not None
    return etcd.EtcdServer(f"{state.lab_dir(lab.name)}/etcd", netns(lab.name), str(s.address.ip))


def url(lab: model.Lab, st: state.State) -> str:
    """What each host's `cluster-store` setting says."""
    return server(lab).url if lab.cluster.kind == "etcd" else f"sqlite://{st.cluster_store}"


def wiring(lab: model.Lab) -> Plan:
    """etcd's namespace joined to its segment, as a host NIC is (underlay.py)."""
    s = lab.cluster
    assert s.segment is not None and s.address is not None
    ns, sns = netns(lab.name), naming.segment_netns(lab.name, s.segment)
    return plan(CreateVeth(ns=ns, name="eth0", peer=ETCD_PORT, peer_ns=sns,
                           tag=naming.tag(lab.name, s.segment)),
                SetMaster(ns=sns, ifname=ETCD_PORT, master=naming.segment_bridge(s.segment)),
                LinkUp(ns=sns, ifname=ETCD_PORT), LinkUp(ns=ns, ifname="eth0"),
                AddAddress(ns=ns, ifname="eth0", cidr=str(s.address)),
                # a host whose NIC Open vSwitch's userspace datapath took reads etcd's
                # packets through a packet socket, and a veth's unfinished checksums
                # reach its stack as bad ones (fabric/net/offload.py): etcd sends
                # finished packets (a store's few, small ones)
                TxOffloads(ns=ns, ifname="eth0"),
                title="the lab's etcd")


def explain(lab: model.Lab) -> list[str]:
    """`lab up --dry-run`'s lines for the store."""
    if lab.cluster.kind != "etcd":
        return []
    srv = server(lab)
    return [f"# cluster store: etcd at {srv.address}:{srv.port} on segment "
            f"{lab.cluster.segment}", f"ip netns add {netns(lab.name)}",
            *wiring(lab).describe(),
            f"ip netns exec {netns(lab.name)} {shlex.join(srv.command())} &"]


def make(lab: model.Lab, st: state.State, say) -> None:
    """Make the store before the hosts' daemons start, so none of them has to."""
    if lab.cluster.kind == "sqlite":
        # made here, not by daemons opening it side by side (schema, WAL); imported
        # here, as resolve.py (every `lab` command) imports this module
        from fabric.cluster.connect import connect
        connect(url(lab, st)).close()
        return
    st.record("etcd", netns(lab.name))
    netnsmod.create(netns(lab.name))
    with Context() as ctx:
        Applier(ctx).run(wiring(lab))
    srv = server(lab)
    say("cluster store", f"starting etcd at {srv.address}:{srv.port}")
    srv.start()
    say("cluster store", f"etcd up at {srv.address}:{srv.port}")
