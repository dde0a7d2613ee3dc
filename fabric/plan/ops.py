"""Plan steps: frozen values that know how to apply, undo and describe themselves.

Every step is idempotent. `apply(ctx)` returns a memo when it changed the kernel and
None when the kernel already matched, so a rollback undoes only what this run did.
`undo(ctx, memo)` reverses a step; called with no memo (a teardown plan built from
the same steps) it removes only objects carrying the step's ownership tag, so a bridge
made by hand or an interface that merely shares a name is never touched.

`ns` None means the host namespace; `Applier` rebases steps onto the context's host
before running or describing them, so planners stay pure and host-agnostic.
"""

from dataclasses import dataclass, replace
from typing import Any

from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.net import addrs, links, neigh, offload, routes, sysctl
from fabric.plan import shell

Memo = Any


@dataclass(frozen=True, kw_only=True)
class Op:
    ns: str | None = None

    def apply(self, ctx) -> Memo | None:
        raise NotImplementedError

    def undo(self, ctx, memo: Memo | None = None) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def rebase(self, host_ns: str | None) -> "Op":
        return self if self.ns is not None or host_ns is None else replace(self, ns=host_ns)


def _ours(link: links.Link | None, tag: str | None) -> bool:
    return link is not None and tag is not None and link.alias == tag


# --- links -------------------------------------------------------------------------

@dataclass(frozen=True)
class EnsureBridge(Op):
    """A bridge named `name`: created and tagged when missing (unless `create` is
    False, as for Docker's `-b br0`, which must exist); used as it is when present.

    `claim`: the name is one only this network derives (from its id), so an untagged
    bridge of that name is its own, made by a run that died between adding the bridge
    and tagging it (two netlink requests): tag it, or `network rm` would never
    recognise it."""
    name: str
    tag: str | None = None
    mtu: int | None = None
    mac: str | None = None
    create: bool = True
    claim: bool = False

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        link = links.get(ipr, self.name)
        if link is not None:
            if link.kind != "bridge":
                raise Conflict(f"interface {self.name} exists and is not a bridge")
            if link.tagged and self.tag and link.alias != self.tag:
                # another fabric network's bridge (or one left by a wiped store): using
                # it would join two networks into one segment
                raise Conflict(f"bridge {self.name} belongs to another fabric network "
                               f"({link.alias}); if that network is gone, remove it: "
                               f"ip link del {self.name}")
            if self.claim and self.tag and not link.alias:
                links.set_alias(ipr, self.name, self.tag)
                return True
            return None
        if not self.create:
            raise NotFound(f"bridge {self.name} does not exist (create it first: "
                           f"ip link add {self.name} type bridge)")
        links.add_bridge(ipr, self.name, mtu=self.mtu, mac=self.mac, alias=self.tag)
        return True

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if _ours(links.get(ipr, self.name), self.tag):
            links.delete(ipr, self.name)

    def describe(self):
        if not self.create:
            return shell.ip(self.ns, "link", "show", "dev", self.name, "type", "bridge")
        lines = [shell.ip(self.ns, "link", "add", self.name,
                          *(("address", self.mac) if self.mac else ()),
                          *(("mtu", self.mtu) if self.mtu else ()), "type", "bridge")]
        if self.tag:
            lines.append(shell.ip(self.ns, "link", "set", "dev", self.name,
                                  "alias", self.tag))
        return "\n".join(lines)


@dataclass(frozen=True)
class CreateVeth(Op):
    """A veth pair: `name` in `ns`, `peer` born directly inside `peer_ns`."""
    name: str
    peer: str
    peer_ns: str | None = None
    tag: str | None = None
    mtu: int | None = None
    peer_mac: str | None = None

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        link = links.get(ipr, self.name)
        if link is not None:
            if _ours(link, self.tag):
                return None
            raise Conflict(f"interface {self.name} already exists")
        links.add_veth(ipr, self.name, self.peer, self.peer_ns, mtu=self.mtu,
                       peer_mac=self.peer_mac, alias=self.tag)
        return True

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if _ours(links.get(ipr, self.name), self.tag):
            links.delete(ipr, self.name)  # takes the peer with it

    def describe(self):
        peer = ["peer", "name", self.peer]
        if self.peer_mac:
            peer += ["address", self.peer_mac]
        if self.mtu:
            peer += ["mtu", self.mtu]
        if self.peer_ns is not None:
            peer += ["netns", shell.netns_arg(self.peer_ns)]
        lines = [shell.ip(self.ns, "link", "add", self.name,
                          *(("mtu", self.mtu) if self.mtu else ()), "type", "veth", *peer)]
        if self.tag:
            lines.append(shell.ip(self.ns, "link", "set", "dev", self.name,
                                  "alias", self.tag))
        return "\n".join(lines)


@dataclass(frozen=True)
class DeleteLink(Op):
    """Teardown: delete a link if it is there and, when `tag` is set, only if it
    carries that tag. Already gone is success."""
    name: str
    tag: str | None = None

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        link = links.get(ipr, self.name)
        if link is None or (self.tag is not None and link.alias != self.tag):
            return None
        return links.delete(ipr, self.name) or None

    def undo(self, ctx, memo=None):
        pass  # a deleted link cannot be brought back; teardown plans never roll back

    def describe(self):
        return shell.ip(self.ns, "link", "del", "dev", self.name)


@dataclass(frozen=True)
class SetMaster(Op):
    ifname: str
    master: str | None

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        link = links.require(ipr, self.ifname)
        old = links.by_index(ipr, link.master).name if link.master else None
        if old == self.master:
            return None
        links.set_master(ipr, self.ifname, self.master)
        return ("was", old)

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if links.get(ipr, self.ifname) is not None:
            links.set_master(ipr, self.ifname, memo[1] if memo else None)

    def describe(self):
        if self.master is None:
            return shell.ip(self.ns, "link", "set", "dev", self.ifname, "nomaster")
        return shell.ip(self.ns, "link", "set", "dev", self.ifname, "master", self.master)


@dataclass(frozen=True)
class LinkUp(Op):
    ifname: str
    up: bool = True

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        if links.require(ipr, self.ifname).up == self.up:
            return None
        links.set_up(ipr, self.ifname, self.up)
        return True

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if links.get(ipr, self.ifname) is not None:
            links.set_up(ipr, self.ifname, not self.up)

    def describe(self):
        return shell.ip(self.ns, "link", "set", "dev", self.ifname,
                        "up" if self.up else "down")


@dataclass(frozen=True)
class SetMtu(Op):
    ifname: str
    mtu: int

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        old = links.require(ipr, self.ifname).mtu
        if old == self.mtu:
            return None
        links.set_mtu(ipr, self.ifname, self.mtu)
        return old

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if memo is not None and links.get(ipr, self.ifname) is not None:
            links.set_mtu(ipr, self.ifname, memo)

    def describe(self):
        return shell.ip(self.ns, "link", "set", "dev", self.ifname, "mtu", self.mtu)


@dataclass(frozen=True)
class SetMac(Op):
    ifname: str
    mac: str

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        old = links.require(ipr, self.ifname).mac
        if old == self.mac.lower():
            return None
        links.set_mac(ipr, self.ifname, self.mac)
        return old

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if memo is not None and links.get(ipr, self.ifname) is not None:
            links.set_mac(ipr, self.ifname, memo)

    def describe(self):
        return shell.ip(self.ns, "link", "set", "dev", self.ifname, "address", self.mac)


@dataclass(frozen=True)
class SetHairpin(Op):
    ifname: str
    on: bool = True

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        if links.hairpin(ipr, self.ifname) == self.on:
            return None
        links.set_hairpin(ipr, self.ifname, self.on)
        return True

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        if links.get(ipr, self.ifname) is not None:
            links.set_hairpin(ipr, self.ifname, not self.on)

    def describe(self):
        return shell.bridge(self.ns, "link", "set", "dev", self.ifname,
                            "hairpin", "on" if self.on else "off")


# --- addresses and routes ----------------------------------------------------------

@dataclass(frozen=True)
class AddAddress(Op):
    ifname: str
    cidr: str

    def apply(self, ctx):
        return addrs.add(ctx.ipr(self.ns), self.ifname, self.cidr) or None

    def undo(self, ctx, memo=None):
        addrs.delete(ctx.ipr(self.ns), self.ifname, self.cidr)

    def describe(self):
        return shell.ip(self.ns, "addr", "add", self.cidr, "dev", self.ifname)


@dataclass(frozen=True)
class DelAddress(Op):
    ifname: str
    cidr: str

    def apply(self, ctx):
        return addrs.delete(ctx.ipr(self.ns), self.ifname, self.cidr) or None

    def undo(self, ctx, memo=None):
        if memo:
            addrs.add(ctx.ipr(self.ns), self.ifname, self.cidr)

    def describe(self):
        return shell.ip(self.ns, "addr", "del", self.cidr, "dev", self.ifname)


@dataclass(frozen=True)
class AddRoute(Op):
    """A route tagged as fabric's (`proto 251`), unless `proto` says whose it is (a
    user's route fabric moves, and gives back as it was)."""
    dst: str                # "default" or a CIDR
    gateway: str | None = None
    dev: str | None = None
    metric: int | None = None
    proto: int = routes.RTPROT_FABRIC

    def apply(self, ctx):
        return routes.add(ctx.ipr(self.ns), self.dst, gateway=self.gateway, dev=self.dev,
                          metric=self.metric, proto=self.proto) or None

    def undo(self, ctx, memo=None):
        routes.delete(ctx.ipr(self.ns), self.dst, gateway=self.gateway, dev=self.dev)

    def describe(self):
        return shell.ip(self.ns, "route", "add", self.dst,
                        *(("via", self.gateway) if self.gateway else ()),
                        *(("dev", self.dev) if self.dev else ()),
                        *(("metric", self.metric) if self.metric is not None else ()),
                        "proto", self.proto)


@dataclass(frozen=True)
class DelRoute(Op):
    """Remove a route; with `proto`, only one of that protocol (fabric's own, so a
    user's route to the same place is never taken)."""
    dst: str
    gateway: str | None = None
    dev: str | None = None
    proto: int | None = None

    def apply(self, ctx):
        return routes.delete(ctx.ipr(self.ns), self.dst, gateway=self.gateway,
                             dev=self.dev, proto=self.proto) or None

    def undo(self, ctx, memo=None):
        if memo:
            routes.add(ctx.ipr(self.ns), self.dst, gateway=self.gateway, dev=self.dev,
                       proto=self.proto if self.proto is not None else routes.RTPROT_FABRIC)

    def describe(self):
        return shell.ip(self.ns, "route", "del", self.dst,
                        *(("via", self.gateway) if self.gateway else ()),
                        *(("dev", self.dev) if self.dev else ()),
                        *(("proto", self.proto) if self.proto is not None else ()))


# --- neighbours and FDB ------------------------------------------------------------

@dataclass(frozen=True)
class AddNeighbour(Op):
    dev: str
    ip: str
    mac: str

    def apply(self, ctx):
        return neigh.add_neighbour(ctx.ipr(self.ns), self.dev, self.ip, self.mac) or None

    def undo(self, ctx, memo=None):
        neigh.del_neighbour(ctx.ipr(self.ns), self.dev, self.ip)

    def describe(self):
        return shell.ip(self.ns, "neigh", "replace", self.ip, "lladdr", self.mac,
                        "dev", self.dev, "nud", "permanent")


@dataclass(frozen=True)
class AddFdb(Op):
    dev: str
    mac: str
    dst: str | None = None  # remote VTEP
    master: bool = False    # the bridge's table (`master`) or the device's (`self`)

    def apply(self, ctx):
        return neigh.add_fdb(ctx.ipr(self.ns), self.dev, self.mac, dst=self.dst,
                             master=self.master) or None

    def undo(self, ctx, memo=None):
        neigh.del_fdb(ctx.ipr(self.ns), self.dev, self.mac, dst=self.dst,
                      master=self.master)

    def describe(self):
        return shell.bridge(self.ns, "fdb", "append", self.mac, "dev", self.dev,
                            *(("dst", self.dst) if self.dst else ()),
                            "master" if self.master else "self", "static")


# --- sysctl and firewall -----------------------------------------------------------

@dataclass(frozen=True)
class SetSysctl(Op):
    """Write a network sysctl. A rollback restores the value found; a standalone undo
    restores `restore` when given and otherwise leaves the value alone (Docker never
    turns ip_forward back off either: other software may rely on it by then)."""
    key: str
    value: str
    restore: str | None = None
    missing_ok: bool = False    # teardown: a per-interface key whose interface is gone

    def __post_init__(self):
        sysctl.proc_path(self.key)  # reject a non-network key while planning

    def apply(self, ctx):
        try:
            old = sysctl.get(self.key, self.ns)
        except NotFound:
            if self.missing_ok:
                return None
            raise
        if old == self.value:
            return None
        sysctl.set(self.key, self.value, self.ns)
        return ("was", old)

    def undo(self, ctx, memo=None):
        old = memo[1] if memo else self.restore
        if old is not None:
            try:
                sysctl.set(self.key, old, self.ns)
            except NotFound:
                pass  # a per-interface key whose interface is gone

    def describe(self):
        return shell.exec_in(self.ns, "sysctl", "-w", f"{self.key}={self.value}")


@dataclass(frozen=True)
class NftBatch(Op):
    """A whole nftables script (nft syntax), applied as one transaction. The firewall
    renders it; `undo_script` (e.g. `delete table inet fabric`) reverses it."""
    script: str
    undo_script: str | None = None
    label: str = "firewall"

    def __post_init__(self):
        if not self.script.strip():
            raise InvalidArgument("empty nftables batch")

    def apply(self, ctx):
        ctx.nft(self.script, self.ns)
        return True

    def undo(self, ctx, memo=None):
        if self.undo_script:
            ctx.nft(self.undo_script, self.ns)

    def describe(self):
        body = self.script.rstrip("\n")
        return f"{shell.exec_in(self.ns, 'nft', '-f', '-')} <<'EOF'\n{body}\nEOF"


@dataclass(frozen=True)
class TxOffloads(Op):
    """Transmit checksum, TSO and GSO of `ifname` on or off (fabric/net/offload.py)."""
    ifname: str
    on: bool = False

    def apply(self, ctx):
        return offload.set_tx(self.ns, self.ifname, self.on) or None

    def undo(self, ctx, memo=None):
        if memo:
            offload.set_tx(self.ns, self.ifname, not self.on)

    def describe(self):
        state = "on" if self.on else "off"
        return shell.exec_in(self.ns, "ethtool", "-K", self.ifname, "tx", state, "tso",
                             state, "gso", state)
