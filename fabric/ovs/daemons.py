"""A host's own ovsdb-server and ovs-vswitchd: found, started and stopped.

The datapath follows the kernel: with the openvswitch module loaded the kernel's
(`system`), otherwise OVS's userspace datapath (`netdev`), which needs no module and
does its own GRE and VXLAN (it sends tunnels through a bridge holding the underlay
address: underlay.py). This machine has no module, so `netdev` is what runs here.

Both daemons detach and outlive the fabric daemon that started them (like containers
under conmon): a restarted daemon finds them by pidfile, and a bridge keeps forwarding
meanwhile. Their pidfiles are trusted only when the process's command line names the
run directory (pids get reused).
"""

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

from fabric import procs
from fabric.errors import FabricError
from fabric.net import nsexec

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
PROGRAMS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd")
DAEMONS = ("ovsdb-server", "ovs-vswitchd")
MISSING = ("Open vSwitch is not installed (ovsdb-server, ovs-vswitchd and ovsdb-tool must "
           "be on PATH; Debian: apt install openvswitch-switch)")
START_TIMEOUT = 10.0


def missing() -> list[str]:
    """The programs (and schema) a host needs to run its own OVS, that it lacks."""
    gone = [p for p in PROGRAMS if shutil.which(p) is None]
    if not os.path.exists(SCHEMA):
        gone.append(SCHEMA)
    return gone


def installed() -> bool:
    return not missing()


def datapath() -> str:
    """`system` where the kernel has the openvswitch module, else `netdev`."""
    return "system" if os.path.isdir("/sys/module/openvswitch") else "netdev"


@dataclass(frozen=True)
class Instance:
    """One host's OVS, all of whose files live in `rundir`."""
    rundir: str

    @property
    def db(self) -> str:
        return os.path.join(self.rundir, "conf.db")

    @property
    def socket(self) -> str:
        return os.path.join(self.rundir, "db.sock")

    @property
    def remote(self) -> str:
        return f"unix:{self.socket}"

    def pidfile(self, daemon: str) -> str:
        return os.path.join(self.rundir, f"{daemon}.pid")

    def ctl(self, daemon: str) -> str:
        return os.path.join(self.rundir, f"{daemon}.ctl")

    def env(self) -> dict[str, str]:
        # every default path OVS derives (bridge .mgmt/.snoop sockets, logs, the
        # system-id file) lands here, never in the machine's /var/run/openvswitch
        env = dict(os.environ)
        for key in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"):
            env[key] = self.rundir
        return env

    # --- what runs ------------------------------------------------------------------------

    def pid(self, daemon: str) -> int | None:
        p = procs.read_pid(self.pidfile(daemon))
        if p and procs.alive(p) and procs.belongs_to(p, self.rundir):
            return p
        return None

    def running(self) -> bool:
        return all(self.pid(d) is not None for d in DAEMONS)

    def argv(self, daemon: str) -> list[str]:
        common = [f"--pidfile={self.pidfile(daemon)}", f"--unixctl={self.ctl(daemon)}",
                  f"--log-file={os.path.join(self.rundir, daemon + '.log')}",
                  "-vconsole:off", "--detach", "--no-chdir"]
        if daemon == "ovsdb-server":
            return ["ovsdb-server", self.db, f"--remote=punix:{self.socket}", *common]
        return ["ovs-vswitchd", self.remote, *common]

    def init_argv(self) -> list[list[str]]:
        """The database, made with its one Open_vSwitch row (what `ovs-vsctl init`
        adds), before any server opens it."""
        row = json.dumps(["Open_vSwitch", {"op": "insert", "table": "Open_vSwitch",
                                           "row": {}}])
        return [["ovsdb-tool", "create", self.db, SCHEMA],
                ["ovsdb-tool", "transact", self.db, row]]

    # --- start and stop -----------------------------------------------------------------

    def start(self, netns: str | None) -> bool:
        """Start whichever daemon is not running, inside `netns` (None: here); False
        when both ran already. FabricError naming the daemon that failed."""
        if self.running():
            return False
        gone = missing()
        if gone:
            raise FabricError(MISSING)
        os.makedirs(self.rundir, mode=0o700, exist_ok=True)
        if not os.path.exists(self.db):
            for argv in self.init_argv():
                self._run(argv, None)
        for daemon in DAEMONS:
            if self.pid(daemon) is None:
                # a daemon started in the namespace's thread inherits its namespace
                nsexec.run(netns, self._run, self.argv(daemon), daemon)
        return True

    def _run(self, argv: list[str], daemon: str | None) -> None:
        try:
            p = subprocess.run(argv, env=self.env(), capture_output=True, text=True,
                               timeout=START_TIMEOUT, cwd="/")
        except (OSError, subprocess.TimeoutExpired) as e:
            raise FabricError(f"{argv[0]}: {e}") from e
        if p.returncode != 0:
            said = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
            raise FabricError(f"{daemon or argv[0]} did not start: {said}")

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop both daemons (vswitchd first, so it lets go of the database) and remove
        the run directory; False when nothing was there."""
        found = False
        for daemon in reversed(DAEMONS):
            p = self.pid(daemon)
            if p is None:
                continue
            found = True
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                continue
            if procs.wait_gone([p], timeout):
                procs.kill([p])
        if os.path.isdir(self.rundir):
            found = True
            shutil.rmtree(self.rundir, ignore_errors=True)
        return found
