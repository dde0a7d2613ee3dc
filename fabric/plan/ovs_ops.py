"""Plan steps for Open vSwitch: the host's own OVS daemons, bridges, ports, tunnels.

They plug into the plan context as tc's and nft's steps do: `ns` is the host (rebased
by the applier), and the host's OVS is the one whose files live under the context's
`host_root` (`<root>/ovs`, fabric/ovs). One OVSDB connection serves all the steps of
a plan (`Context.held`) and closes with it.

Each step is written as the `ovs-vsctl` command doing the same, as run with
`OVS_RUNDIR=<root>/ovs` (so ovs-vsctl finds the host's own database); `--may-exist`
and `--if-exists` there are what makes the step idempotent here too. Ownership lives
in external_ids (fabric/ovs/db.py): a step that deletes removes only a row carrying
its marks, and a step that creates refuses a row of the same name that is marked as
another network's.
"""

import os
import shlex
from dataclasses import dataclass

from fabric.errors import Conflict, FabricError
from fabric.ovs import daemons, underlay
from fabric.ovs import db as ovsdb
from fabric.plan import shell
from fabric.plan.ops import Op

Options = tuple[tuple[str, str], ...]


def instance(ctx) -> daemons.Instance:
    if not ctx.host_root:
        raise FabricError("Open vSwitch steps need the host's root (the plan context "
                          "names none)")
    return daemons.Instance(os.path.join(ctx.host_root, "ovs"))


def database(ctx) -> ovsdb.Ovsdb:
    inst = instance(ctx)
    if not inst.running():
        raise FabricError("this host's Open vSwitch is not running")
    return ctx.held(("ovsdb", inst.rundir), lambda: ovsdb.Ovsdb(inst.remote))


RUNDIR = "$OVS_RUNDIR"


def _words(argv: list[str]) -> str:
    """argv for a shell, the run directory left for the shell to expand."""
    return " ".join(f'"{w}"' if RUNDIR in w else shlex.quote(w) for w in argv)


def _ids(ids: ovsdb.Ids) -> list[str]:
    return [f"external_ids:{k}={v}" for k, v in ids]


def _kv(column: str, pairs: Options) -> list[str]:
    return [f"{column}:{k}={v}" for k, v in pairs]


# --- the daemons ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StartOvs(Op):
    """The host's ovsdb-server and ovs-vswitchd, started inside its namespace unless
    they run already."""

    def apply(self, ctx):
        return instance(ctx).start(self.ns) or None

    def undo(self, ctx, memo=None):
        if memo:
            instance(ctx).stop()

    def describe(self):
        inst = daemons.Instance(RUNDIR)
        lines = [_words(a) for a in inst.init_argv()]
        prefix = shell.exec_in(self.ns, "")
        lines += [(prefix + " " if prefix else "") + _words(inst.argv(d))
                  for d in daemons.DAEMONS]
        return "\n".join(lines)


@dataclass(frozen=True)
class StopOvsIfIdle(Op):
    """Teardown: when no bridge of a fabric network is left, the underlay given back,
    the daemons stopped and their files removed."""

    def apply(self, ctx):
        inst = instance(ctx)
        if inst.running():
            db = database(ctx)
            if db.bridges_marked(ovsdb.NETWORK):
                return None
            underlay.give_back(db, ctx.ipr(self.ns), self.ns)
        return inst.stop() or None

    def undo(self, ctx, memo=None):
        pass    # teardown plans are never rolled back

    def describe(self):
        return "\n".join([f"ovs-vsctl --if-exists del-br {underlay.BRIDGE}",
                          "ovs-appctl -t \"$OVS_RUNDIR/ovs-vswitchd.ctl\" exit",
                          "ovs-appctl -t \"$OVS_RUNDIR/ovsdb-server.ctl\" exit",
                          "rm -rf \"$OVS_RUNDIR\""])


# --- bridges ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnsureOvsBridge(Op):
    """A bridge on the host's datapath (the kernel's where it has the module, else
    userspace), marked with `ids`; its internal port (the bridge's own interface) with
    MAC `mac`, MTU `mtu`, and `protected` (no traffic to other protected ports). No
    other bridge may carry the same value of a mark named in `unique` (a VNI)."""
    name: str
    ids: ovsdb.Ids
    mac: str | None = None
    mtu: int | None = None
    protected: bool = False
    unique: tuple[str, ...] = ()

    def apply(self, ctx):
        db = database(ctx)
        self._check_unique(db)
        row = db.row("Bridge", self.name)
        if row is not None and not ovsdb.owned(row, self.ids):
            if ovsdb.NETWORK in (row.get("external_ids") or {}):
                raise Conflict(f"Open vSwitch bridge {self.name} belongs to another fabric "
                               "network")
            raise Conflict(f"Open vSwitch bridge {self.name} exists and is not fabric's")
        cmds = [db.api.add_br(self.name, may_exist=True, datapath_type=daemons.datapath())]
        cols: list = [("external_ids", dict(self.ids))]
        if self.mac:
            cols.append(("other_config", {"hwaddr": self.mac}))
        cmds.append(db.api.db_set("Bridge", self.name, *cols))
        cmds.append(db.api.db_set("Port", self.name, ("protected", self.protected)))
        if self.mtu:
            cmds.append(db.api.db_set("Interface", self.name, ("mtu_request", self.mtu)))
        db.transact(cmds)
        return None if row is not None else True

    def _check_unique(self, db: ovsdb.Ovsdb) -> None:
        mine = dict(self.ids)
        for key in self.unique:
            for br in db.bridges_marked(key):
                if br["name"] != self.name and br["external_ids"][key] == mine.get(key):
                    raise Conflict(f"{key} {mine[key]} is taken on this host by Open vSwitch "
                                   f"bridge {br['name']} (another fabric network)")

    def undo(self, ctx, memo=None):
        _delete_owned(ctx, "Bridge", self.name, self.ids)

    def describe(self):
        words = ["ovs-vsctl", "--may-exist", "add-br", self.name, "--", "set", "bridge",
                 self.name, f"datapath_type={daemons.datapath()}", *_ids(self.ids)]
        if self.mac:
            words.append(f"other_config:hwaddr={self.mac}")
        words += ["--", "set", "port", self.name, f"protected={str(self.protected).lower()}"]
        if self.mtu:
            words += ["--", "set", "interface", self.name, f"mtu_request={self.mtu}"]
        return shell.q(*words)


@dataclass(frozen=True)
class DeleteOvsBridge(Op):
    """Teardown: the bridge and every port on it, if it carries `ids`."""
    name: str
    ids: ovsdb.Ids

    def apply(self, ctx):
        if not instance(ctx).running():
            return None
        return _delete_owned(ctx, "Bridge", self.name, self.ids) or None

    def undo(self, ctx, memo=None):
        pass

    def describe(self):
        return shell.q("ovs-vsctl", "--if-exists", "del-br", self.name)


def _delete_owned(ctx, table: str, name: str, ids: ovsdb.Ids) -> bool:
    """Delete the bridge or port `name` if it carries `ids` (someone else's is left)."""
    db = database(ctx)
    if not ovsdb.owned(db.row(table, name), ids):
        return False
    api = db.api
    db.transact([api.del_br(name, if_exists=True) if table == "Bridge"
                 else api.del_port(name, if_exists=True)])
    return True


# --- ports -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddOvsPort(Op):
    """Port `name` on `bridge`: an existing interface (`kind` "system", a veth), or
    one OVS makes ("internal", "gre", "vxlan", with `options` such as remote_ip and
    key); marked with `ids`."""
    bridge: str
    name: str
    ids: ovsdb.Ids
    kind: str = "system"
    options: Options = ()
    protected: bool = False
    mtu: int | None = None

    def apply(self, ctx):
        db = database(ctx)
        row = db.row("Port", self.name)
        if row is not None:
            if not ovsdb.owned(row, self.ids):
                raise Conflict(f"Open vSwitch port {self.name} exists and is not this "
                               "one's")
            if db.bridge_of(self.name) != self.bridge:
                raise Conflict(f"Open vSwitch port {self.name} is on another bridge")
        iface: list = []
        if self.kind != "system":
            iface.append(("type", self.kind))
        if self.options:
            iface.append(("options", dict(self.options)))
        if self.mtu:
            iface.append(("mtu_request", self.mtu))
        cmds = [db.api.add_port(self.bridge, self.name, may_exist=True),
                db.api.db_set("Port", self.name, ("external_ids", dict(self.ids)),
                              ("protected", self.protected))]
        if iface:
            cmds.append(db.api.db_set("Interface", self.name, *iface))
        db.transact(cmds)
        return None if row is not None else True

    def undo(self, ctx, memo=None):
        _delete_owned(ctx, "Port", self.name, self.ids)

    def describe(self):
        words = ["ovs-vsctl", "--may-exist", "add-port", self.bridge, self.name, "--",
                 "set", "port", self.name, f"protected={str(self.protected).lower()}",
                 *_ids(self.ids)]
        if self.kind != "system" or self.options or self.mtu:
            words += ["--", "set", "interface", self.name]
            if self.kind != "system":
                words.append(f"type={self.kind}")
            words += _kv("options", self.options)
            if self.mtu:
                words.append(f"mtu_request={self.mtu}")
        return shell.q(*words)


@dataclass(frozen=True)
class DeleteOvsPort(Op):
    """Teardown: the port, if it carries `ids`. Already gone (or no OVS) is success."""
    name: str
    ids: ovsdb.Ids

    def apply(self, ctx):
        if not instance(ctx).running():
            return None
        return _delete_owned(ctx, "Port", self.name, self.ids) or None

    def undo(self, ctx, memo=None):
        pass

    def describe(self):
        return shell.q("ovs-vsctl", "--if-exists", "del-port", self.name)


# --- the underlay and the containers' side --------------------------------------------------

@dataclass(frozen=True)
class TakeUnderlay(Op):
    """With the userspace datapath: the NIC toward `toward` (a peer's underlay
    address) becomes a port of the underlay bridge, which takes its addresses and
    routes (fabric/ovs/underlay.py). Nothing with the kernel datapath."""
    toward: str

    def apply(self, ctx):
        if daemons.datapath() != "netdev":
            return None
        return underlay.take(database(ctx), ctx.ipr(self.ns), self.ns, self.toward)

    def undo(self, ctx, memo=None):
        if memo:
            underlay.give_back(database(ctx), ctx.ipr(self.ns), self.ns)

    def describe(self):
        return "\n".join(underlay.describe_take(self.toward))
