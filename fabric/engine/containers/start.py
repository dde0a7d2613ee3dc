"""Starting a container: mount its root, wire its network beside conmon's `runc
create`, write its /etc files once the addresses are known, then `runc start`; or
describe those steps as commands (`--explain`, `run --dry-run`)."""

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from fabric.client import exithook
from fabric.engine import config as cfgmod
from fabric.engine import etcfiles, mounts
from fabric.engine.containers.background import Background
from fabric.engine.containers.part import Part
from fabric.engine.process import build_process
from fabric.engine.timefmt import ZERO, now_iso
from fabric.errors import Conflict, FabricError
from fabric.runtime import conmon, rootfs, sandbox, seccomp
from fabric.runtime.spec import ContainerSpec, bind, capabilities


class Starting(Part):
    def start(self, ref: str, explain: list[str] | None = None) -> None:
        """Start; with `explain`, the equivalent commands are appended to it as they run."""
        cid = self.records.id_of(ref)
        with self.records.lock(cid):
            doc = self.records.get(cid)
            st = doc["State"]["Status"]
            if st in ("running", "paused"):
                return  # Docker: starting a running container is a no-op
            if st == "removing":
                raise Conflict(f"container {ref} is marked for removal and cannot be started")
            self.ctrs.restarts.cancel(cid)
            self.start_locked(doc, explain)

    def describe(self, ref: str) -> list[str]:
        """What starting would run, changing nothing (`run --dry-run`)."""
        doc = self.records.get(ref)
        net = self.engine.network
        lines: list[str] = []
        netns = None
        if net.owns_sandbox(doc):
            netns = sandbox.netns_path(doc["Id"])
            lines += self._sandbox_lines(doc)
        lines += self._rootfs_lines(doc)
        with net.explaining("dry-run") as net_lines:
            net.attach(doc, netns)
        return lines + net_lines + self._runc_lines(doc)

    def _sandbox_lines(self, doc: dict) -> list[str]:
        name = sandbox.netns_name(doc["Id"])
        return [f"ip netns add {name}", f"ip -n {name} link set lo up"]

    def _rootfs_lines(self, doc: dict) -> list[str]:
        target, upper, work = rootfs.paths(self.records.cdir(doc["Id"]))
        lowers = ":".join(self.engine.images.layer_dirs(doc["Image"]))
        return [f"mount -t overlay overlay -o lowerdir={lowers},upperdir={upper},"
                f"workdir={work} {target}"]

    def _runc_lines(self, doc: dict) -> list[str]:
        r, cid = self.engine.root.runc_root, doc["Id"]
        return [f"runc --root {r} create --bundle {self.records.cdir(cid)} {cid}   # under conmon",
                f"runc --root {r} start {cid}"]

    def start_locked(self, doc: dict, explain: list[str] | None = None) -> None:
        """Start a container whose lock the caller holds (also a restart policy's)."""
        cid = doc["Id"]
        cdir = self.records.cdir(cid)
        config = doc["Config"]
        net, runc, root = self.engine.network, self.engine.runc, self.engine.root
        # Leftovers of an earlier run (a crash between exit and cleanup) go first.
        self.ctrs.teardown.runtime(doc)
        try:
            os.unlink(conmon.exit_file(root.exits, cid))
        except FileNotFoundError:
            pass
        undo: list[Callable[[], Any]] = []
        net_join = None
        try:
            lowers = self.engine.images.layer_dirs(doc["Image"])
            rfs = rootfs.mount(cdir, lowers)
            undo.append(lambda: rootfs.unmount(cdir))
            netns = net.sandbox(doc)
            if netns:
                undo.append(lambda: sandbox.remove(cid))
            undo.append(lambda: net.release(doc))
            if explain is not None:
                if net.owns_sandbox(doc):
                    explain += self._sandbox_lines(doc)
                explain += self._rootfs_lines(doc)
                with net.explaining("explain") as net_lines:
                    net.attach(doc, netns)
                explain += net_lines + self._runc_lines(doc)
            else:
                # Wiring the network and `runc create` are independent until the process
                # starts, and each takes tens of milliseconds: do them side by side.
                net_join = Background(net.attach, doc, netns)
            # Placeholders to bind-mount; their content waits for the addresses.
            etcfiles.write(cdir, config["Hostname"], "", "")
            self._write_spec(doc, rfs, netns)
            log_size, log_files = cfgmod.container_log_limits(doc["HostConfig"])
            self.ctrs.logs.start_fresh(cdir, log_files, log_size)
            pid = conmon.create(
                cid=cid, name=doc["Name"].lstrip("/"), cdir=cdir, runc_root=root.runc_root,
                exits_dir=root.exits, log_path=doc["LogPath"], tty=bool(config.get("Tty")),
                stdin=bool(config.get("OpenStdin")),
                stdin_once=bool(config.get("StdinOnce")) and not config.get("Tty"),
                exit_command=exithook.command(sys.executable, root.path, cid),
                log_size_max=log_size)
            undo.append(lambda: runc.delete(cid, force=True))
            self.ctrs.logs.watch(cdir, log_files)
            undo.append(lambda: self.ctrs.logs.unwatch(cdir, log_files))
            if net_join is not None:
                net_join.result()
                net_join = None
            hosts, resolv = net.etc_files(doc)
            etcfiles.write(cdir, config["Hostname"], hosts, resolv)
            self.engine.attach.container_created(cid)
            runc.start(cid)
        except BaseException as e:
            if net_join is not None:
                try:
                    net_join.result()
                except BaseException:
                    pass
            for fn in reversed(undo):
                try:
                    fn()
                except Exception:
                    pass
            doc["State"].update(Status="created" if doc["State"]["StartedAt"] == ZERO
                                else "exited", Running=False, Pid=0, Error=str(e),
                                ExitCode=e.exit_code if isinstance(e, FabricError) else 125)
            self.records.save(doc)
            self.engine.attach.container_failed(cid)
            raise
        doc["State"].update(Status="running", Running=True, Paused=False, Restarting=False,
                            Pid=pid, ExitCode=0, Error="", StartedAt=now_iso(),
                            FinishedAt=ZERO)
        doc["Fabric"]["ManualStop"] = False
        self.ctrs.health.starting(doc)
        self.records.save(doc)
        self.ctrs.events.started(doc)
        self.ctrs.exits.watch(cid, pid)
        self.ctrs.health.watch(doc)

    def _write_spec(self, doc: dict, rfs: str, netns: str | None) -> None:
        """The OCI config.json that conmon's `runc create` reads."""
        hc, config = doc["HostConfig"], doc["Config"]
        caps = capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [],
                            bool(hc.get("Privileged")))
        proc = build_process(config, rfs, config["Hostname"], caps,
                             self.engine.network.env(doc))
        security = cfgmod.security_options(hc.get("SecurityOpt"))
        proc.no_new_privileges = security["no_new_privileges"]
        mnts = mounts.oci_mounts(doc["Mounts"], rfs) + self._etc_mounts(doc)
        spec = ContainerSpec(
            process=proc, rootfs=rfs, hostname=config["Hostname"], netns=netns,
            cgroup=f"/fabric/{doc['Id']}", mounts=mnts, memory=hc.get("Memory") or 0,
            nano_cpus=hc.get("NanoCpus") or 0,
            pids_limit=max(0, hc.get("PidsLimit") or 0),
            readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
            privileged=bool(hc.get("Privileged")),
            seccomp=self._seccomp(security["seccomp"], caps, bool(hc.get("Privileged"))))
        # 0600: the process's environment is in it
        path = os.path.join(self.records.cdir(doc["Id"]), "config.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(spec.to_oci(), f)

    @staticmethod
    def _seccomp(profile: str | None, caps: list[str], privileged: bool) -> dict | None:
        """Docker's choice: none for --privileged or seccomp=unconfined, the container's
        own profile, else the default; each fitted to the container's capabilities."""
        if privileged or profile == "unconfined":
            return None
        prof = seccomp.default_profile() if profile is None else seccomp.load(profile)
        return seccomp.to_oci(prof, caps)

    @staticmethod
    def _etc_mounts(doc: dict) -> list[dict]:
        out = []
        dests = {m["Destination"] for m in doc["Mounts"]}
        for fname, key in (("/etc/resolv.conf", "ResolvConfPath"),
                           ("/etc/hostname", "HostnamePath"), ("/etc/hosts", "HostsPath")):
            if fname not in dests:
                out.append(bind(doc[key], fname))
        return out
