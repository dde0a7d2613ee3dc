"""Plan steps for tunnels between hosts: a VXLAN device, and taking back what the
endpoint registry programmed (ops.py's AddFdb and AddNeighbour put it there).

Kept beside ops.py rather than in it: new kinds of kernel state plug into plans
without editing the core steps.
"""

from dataclasses import dataclass

from fabric.errors import Conflict
from fabric.net import links, neigh, vxlan
from fabric.plan import shell
from fabric.plan.ops import Op


@dataclass(frozen=True)
class EnsureVxlan(Op):
    """A VXLAN device `name`: VNI `vni`, UDP `port`, sending from `local` through
    `dev`, learning off and ARP answered from its neighbour table (fabric/net/vxlan.py);
    made and tagged when missing, used when it is there as asked and carries the tag."""
    name: str
    vni: int
    port: int
    local: str
    dev: str
    tag: str
    mtu: int | None = None
    mac: str | None = None

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        link = links.get(ipr, self.name)
        if link is not None:
            have = vxlan.get(ipr, self.name)
            if link.alias != self.tag or have is None:
                raise Conflict(f"interface {self.name} exists and is not this network's "
                               f"VXLAN device ({link.alias or 'untagged'})")
            if (have.vni, have.port, have.local) != (self.vni, self.port, self.local):
                raise Conflict(f"VXLAN device {self.name} has VNI {have.vni} dstport "
                               f"{have.port} local {have.local}, not VNI {self.vni} dstport "
                               f"{self.port} local {self.local}; remove it: "
                               f"ip link del {self.name}")
            return None
        vxlan.add(ipr, self.name, vni=self.vni, port=self.port, local=self.local,
                  dev=self.dev, mtu=self.mtu, mac=self.mac, alias=self.tag)
        return True

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        link = links.get(ipr, self.name)
        if link is not None and link.alias == self.tag:
            links.delete(ipr, self.name)

    def describe(self):
        return "\n".join([
            shell.ip(self.ns, "link", "add", self.name,
                     *(("address", self.mac) if self.mac else ()),
                     *(("mtu", self.mtu) if self.mtu else ()), "type", "vxlan", "id",
                     self.vni, "dstport", self.port, "local", self.local, "dev", self.dev,
                     "nolearning", "proxy"),
            shell.ip(self.ns, "link", "set", "dev", self.name, "alias", self.tag)])


@dataclass(frozen=True)
class DelFdb(Op):
    """Remove a static FDB entry; already gone is success."""
    dev: str
    mac: str
    dst: str | None = None
    master: bool = False

    def apply(self, ctx):
        return neigh.del_fdb(ctx.ipr(self.ns), self.dev, self.mac, dst=self.dst,
                             master=self.master) or None

    def undo(self, ctx, memo=None):
        if memo:
            neigh.add_fdb(ctx.ipr(self.ns), self.dev, self.mac, dst=self.dst,
                          master=self.master)

    def describe(self):
        return shell.bridge(self.ns, "fdb", "del", self.mac, "dev", self.dev,
                            *(("dst", self.dst) if self.dst else ()),
                            "master" if self.master else "self")


@dataclass(frozen=True)
class DelNeighbour(Op):
    """Remove a neighbour entry; already gone is success."""
    dev: str
    ip: str
    mac: str            # what it was, to put it back on a rollback

    def apply(self, ctx):
        return neigh.del_neighbour(ctx.ipr(self.ns), self.dev, self.ip) or None

    def undo(self, ctx, memo=None):
        if memo:
            neigh.add_neighbour(ctx.ipr(self.ns), self.dev, self.ip, self.mac)

    def describe(self):
        return shell.ip(self.ns, "neigh", "del", self.ip, "dev", self.dev)
