"""The container lifecycle: create, start, stop, kill, pause, remove, restart policies,
and reconciling the store with what runc and conmon report after a daemon restart.

States follow Docker's: created, running, paused, restarting, removing, exited, dead.
Every transition is written to the store before the kernel is touched where a crash
could otherwise leave an object nobody knows of, and `reconcile` repairs the rest.
"""

import json
import os
import secrets
import select
import shutil
import signal as signals
import sqlite3
import sys
import threading
import time

from fabric.client import exithook
from fabric.engine import config as cfgmod
from fabric.engine import etcfiles, mounts, names
from fabric.engine.process import build_process
from fabric.engine.timefmt import ZERO, now_iso, parse_iso
from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound, NotRunning
from fabric.runtime import conmon, rootfs, sandbox
from fabric.runtime.spec import ContainerSpec, capabilities

ACTIVE = ("running", "paused", "restarting")


def signal_number(sig: str | int) -> int:
    if isinstance(sig, int) or str(sig).isdigit():
        return int(sig)
    s = str(sig).upper()
    if not s.startswith("SIG"):
        s = "SIG" + s
    try:
        return int(getattr(signals, s))
    except AttributeError:
        raise InvalidArgument(f"invalid signal: {sig}") from None


class _Background:
    """Run a call on another thread; `result()` joins it and re-raises its error."""

    def __init__(self, fn, *args):
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            fn(*args)
        except BaseException as e:
            self._error = e

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


class Containers:
    def __init__(self, engine):
        self.engine = engine
        self.root = engine.root
        self.store = engine.store
        self.runc = engine.runc
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._changed = threading.Condition()
        self._restart_timers: dict[str, threading.Timer] = {}
        # Exit codes of containers removed on exit (--rm), for `wait` callers that
        # look after the row is gone.
        self._final_codes: dict[str, int] = {}

    # ---- store ------------------------------------------------------------------------
    def lock(self, cid: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(cid, threading.RLock())

    def _row(self, ref: str) -> sqlite3.Row:
        ref = ref.lstrip("/")
        row = self.store.one("SELECT * FROM containers WHERE id=? OR name=?", (ref, ref))
        if row:
            return row
        if len(ref) >= 1 and all(c in "0123456789abcdef" for c in ref):
            rows = self.store.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise InvalidArgument(f"container id prefix {ref!r} is ambiguous; give more "
                                      "characters")
        raise NotFound(f"No such container: {ref}")

    def get(self, ref: str) -> dict:
        return json.loads(self._row(ref)["doc"])

    def id_of(self, ref: str) -> str:
        return self._row(ref)["id"]

    def save(self, doc: dict) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE containers SET doc=?, status=?, name=? WHERE id=?",
                      (json.dumps(doc), doc["State"]["Status"], doc["Name"].lstrip("/"),
                       doc["Id"]))
        with self._changed:
            self._changed.notify_all()

    def all(self) -> list[dict]:
        return [json.loads(r["doc"]) for r in
                self.store.query("SELECT doc FROM containers ORDER BY created DESC, rowid DESC")]

    def cdir(self, cid: str) -> str:
        return self.root.container_dir(cid)

    # ---- create -----------------------------------------------------------------------
    def create(self, body: dict, name: str | None = None) -> dict:
        body = dict(body or {})
        host_config = cfgmod.validate_host_config(body.pop("HostConfig", None) or {})
        networking = body.pop("NetworkingConfig", None) or {}
        config = cfgmod.validate_config(body)
        if name is not None and name != "":
            if not names.valid(name):
                raise InvalidArgument(f"Invalid container name ({name}), only "
                                      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            name = name.lstrip("/")
            if self.store.one("SELECT id FROM containers WHERE name=?", (name,)):
                other = self.store.one("SELECT id FROM containers WHERE name=?", (name,))["id"]
                raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                               f'container "{other}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
        image_id = self.engine.images.resolve(config["Image"])
        image_cfg = self.engine.images.config(image_id)
        config = cfgmod.merge_image_config(config, image_cfg)
        self.engine.network.validate(config, host_config, networking)
        cid = secrets.token_hex(32)
        config.setdefault("Hostname", "")
        if not config["Hostname"]:
            config["Hostname"] = cid[:12]
        doc = {
            "Id": cid,
            "Created": now_iso(),
            "Path": (config.get("Entrypoint") or config.get("Cmd"))[0],
            "Args": ((config.get("Entrypoint") or []) + (config.get("Cmd") or []))[1:],
            "State": {"Status": "created", "Running": False, "Paused": False,
                      "Restarting": False, "OOMKilled": False, "Dead": False, "Pid": 0,
                      "ExitCode": 0, "Error": "", "StartedAt": ZERO, "FinishedAt": ZERO},
            "Image": image_id,
            "ResolvConfPath": os.path.join(self.cdir(cid), "resolv.conf"),
            "HostnamePath": os.path.join(self.cdir(cid), "hostname"),
            "HostsPath": os.path.join(self.cdir(cid), "hosts"),
            "LogPath": os.path.join(self.cdir(cid), "ctr.log"),
            "Name": "",
            "RestartCount": 0,
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "HostConfig": host_config,
            "Mounts": [],
            "Config": config,
            "NetworkSettings": {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                                "Networks": {}},
            "Fabric": {"ManualStop": False, "Networking": networking},
        }
        # Mounts create volumes; do it before the row so a bad spec leaves no row, and
        # remove the anonymous volumes it made if inserting the row fails.
        doc["Mounts"] = mounts.resolve(self.engine, config, host_config)
        try:
            self._insert(doc, name)
        except BaseException:
            self._drop_anonymous_volumes(doc)
            raise
        try:
            os.makedirs(self.cdir(cid), mode=0o700)
            rootfs.prepare(self.cdir(cid))
            self.engine.network.created(doc)
            self.save(doc)
        except BaseException:
            self._forget(cid)
            raise
        return {"Id": cid, "Warnings": []}

    def _insert(self, doc: dict, name: str | None) -> None:
        for attempt in range(20):
            n = name or names.generate(attempt)
            doc["Name"] = "/" + n
            try:
                with self.store.tx() as c:
                    c.execute("INSERT INTO containers(id, name, image_id, created, status, doc) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              (doc["Id"], n, doc["Image"], time.time(), "created",
                               json.dumps(doc)))
                return
            except sqlite3.IntegrityError:
                if name:
                    raise Conflict(f'Conflict. The container name "/{name}" is already in use. '
                                   "Remove or rename that container to reuse the name.") from None
        raise FabricError("could not generate a unique container name")

    def _forget(self, cid: str) -> None:
        doc = None
        try:
            doc = self.get(cid)
        except NotFound:
            pass
        with self.store.tx() as c:
            c.execute("DELETE FROM containers WHERE id=?", (cid,))
        if doc:
            self._drop_anonymous_volumes(doc)
        shutil.rmtree(self.cdir(cid), ignore_errors=True)

    def _drop_anonymous_volumes(self, doc: dict) -> None:
        for m in doc.get("Mounts") or []:
            if m.get("Type") == "volume" and self.engine.volumes.is_anonymous(m["Name"]):
                try:
                    self.engine.volumes.remove(m["Name"])
                except FabricError:
                    pass

    # ---- start ------------------------------------------------------------------------
    def start(self, ref: str, _restart: bool = False, explain: list | None = None) -> None:
        """Start; with `explain`, the equivalent commands are appended to it as they run."""
        cid = self.id_of(ref)
        with self.lock(cid):
            doc = self.get(cid)
            st = doc["State"]["Status"]
            if st in ("running", "paused") and not _restart:
                return  # Docker: starting a running container is a no-op
            if st == "removing":
                raise Conflict(f"container {ref} is marked for removal and cannot be started")
            self._cancel_restart(cid)
            self._start_locked(doc, explain)

    def describe_start(self, ref: str) -> list[str]:
        """What starting would run, changing nothing (`run --dry-run`)."""
        doc = self.get(ref)
        lines: list[str] = []
        netns = None
        if self.engine.network.owns_sandbox(doc):
            netns = sandbox.netns_path(doc["Id"])
            lines += self._sandbox_lines(doc)
        lines += self._rootfs_lines(doc)
        with self.engine.network.explaining("dry-run") as net_lines:
            self.engine.network.attach(doc, netns)
        return lines + net_lines + self._runc_lines(doc)

    def _sandbox_lines(self, doc: dict) -> list[str]:
        name = sandbox.netns_name(doc["Id"])
        return [f"ip netns add {name}", f"ip -n {name} link set lo up"]

    def _rootfs_lines(self, doc: dict) -> list[str]:
        target, upper, work = rootfs.paths(self.cdir(doc["Id"]))
        lowers = ":".join(self.engine.images.layer_dirs(doc["Image"]))
        return [f"mount -t overlay overlay -o lowerdir={lowers},upperdir={upper},"
                f"workdir={work} {target}"]

    def _runc_lines(self, doc: dict) -> list[str]:
        r, cid = self.root.runc_root, doc["Id"]
        return [f"runc --root {r} create --bundle {self.cdir(cid)} {cid}   # under conmon",
                f"runc --root {r} start {cid}"]

    def _start_locked(self, doc: dict, explain: list | None = None) -> None:
        cid = doc["Id"]
        cdir = self.cdir(cid)
        hc, config = doc["HostConfig"], doc["Config"]
        # Leftovers of an earlier run (a crash between exit and cleanup) go first.
        self._teardown_runtime(doc)
        try:
            os.unlink(conmon.exit_file(self.root.exits, cid))
        except FileNotFoundError:
            pass
        undo: list = []
        net_join = None
        try:
            lowers = self.engine.images.layer_dirs(doc["Image"])
            rfs = rootfs.mount(cdir, lowers)
            undo.append(lambda: rootfs.unmount(cdir))
            netns = self.engine.network.sandbox(doc)
            if netns:
                undo.append(lambda: sandbox.remove(cid))
            undo.append(lambda: self.engine.network.release(doc))
            if explain is not None:
                if self.engine.network.owns_sandbox(doc):
                    explain += self._sandbox_lines(doc)
                explain += self._rootfs_lines(doc)
                with self.engine.network.explaining("explain") as net_lines:
                    self.engine.network.attach(doc, netns)
                explain += net_lines + self._runc_lines(doc)
            else:
                # Wiring the network and `runc create` are independent until the process
                # starts, and each takes tens of milliseconds: do them side by side.
                net_join = _Background(self.engine.network.attach, doc, netns)
            # Placeholders to bind-mount; their content waits for the addresses.
            etcfiles.write(cdir, config["Hostname"], "", "")
            caps = capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [],
                                bool(hc.get("Privileged")))
            proc = build_process(config, rfs, config["Hostname"], caps,
                                 self.engine.network.env(doc))
            mnts = mounts.oci_mounts(doc["Mounts"], rfs) + self._etc_mounts(doc)
            spec = ContainerSpec(
                process=proc, rootfs=rfs, hostname=config["Hostname"], netns=netns,
                cgroup=f"/fabric/{cid}", mounts=mnts, memory=hc.get("Memory") or 0,
                nano_cpus=hc.get("NanoCpus") or 0,
                pids_limit=max(0, hc.get("PidsLimit") or 0),
                readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
                privileged=bool(hc.get("Privileged")))
            with open(os.path.join(cdir, "config.json"), "w") as f:
                json.dump(spec.to_oci(), f)
            pid = conmon.create(
                cid=cid, name=doc["Name"].lstrip("/"), cdir=cdir, runc_root=self.root.runc_root,
                exits_dir=self.root.exits, log_path=doc["LogPath"], tty=bool(config.get("Tty")),
                stdin=bool(config.get("OpenStdin")),
                stdin_once=bool(config.get("StdinOnce")) and not config.get("Tty"),
                exit_command=exithook.command(sys.executable, self.root.path, cid))
            undo.append(lambda: self.runc.delete(cid, force=True))
            if net_join is not None:
                net_join.result()
                net_join = None
            hosts, resolv = self.engine.network.etc_files(doc)
            etcfiles.write(cdir, config["Hostname"], hosts, resolv)
            self.engine.attach.container_created(cid)
            self.runc.start(cid)
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
                                ExitCode=getattr(e, "exit_code", 125) if
                                isinstance(e, FabricError) else 125)
            self.save(doc)
            self.engine.attach.container_failed(cid)
            raise
        doc["State"].update(Status="running", Running=True, Paused=False, Restarting=False,
                            Pid=pid, ExitCode=0, Error="", StartedAt=now_iso(),
                            FinishedAt=ZERO)
        doc["Fabric"]["ManualStop"] = False
        self.save(doc)
        self._watch(cid, pid)

    def _etc_mounts(self, doc: dict) -> list[dict]:
        from fabric.runtime.spec import bind
        out = []
        dests = {m["Destination"] for m in doc["Mounts"]}
        for fname, key in (("/etc/resolv.conf", "ResolvConfPath"),
                           ("/etc/hostname", "HostnamePath"), ("/etc/hosts", "HostsPath")):
            if fname not in dests:
                out.append(bind(doc[key], fname))
        return out

    def _watch(self, cid: str, pid: int) -> None:
        """Notice the exit at once (a pidfd becomes readable when the process ends) so
        `run` and `wait` do not depend on conmon's exit command, which starts a process."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = None  # already gone (a quick command): still wait for conmon's exit file

        def waiter() -> None:
            if fd is not None:
                try:
                    select.select([fd], [], [])
                finally:
                    os.close(fd)
            exit_path = conmon.exit_file(self.root.exits, cid)
            deadline = time.monotonic() + 10
            while not os.path.exists(exit_path) and time.monotonic() < deadline:
                time.sleep(0.001)
            self.on_exit(cid, settle=True)
        threading.Thread(target=waiter, daemon=True, name=f"watch-{cid[:12]}").start()

    # ---- exit, restart policies -----------------------------------------------------------
    def exit_code(self, cid: str) -> int | None:
        try:
            with open(conmon.exit_file(self.root.exits, cid)) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (FileNotFoundError, ValueError):
            return None

    def on_exit(self, cid: str, settle: bool = False) -> None:
        """The container's process is gone (or may be): record it, clean up, and apply
        --rm and the restart policy. Idempotent; called by the watcher, by conmon's exit
        command and by reconcile.

        conmon's exit command can arrive late, after a restart policy already started the
        next run: without an exit file, only `settle` (the caller knows conmon is gone or
        gave up waiting for it) lets a missing exit code become 137/255."""
        try:
            with self.lock(cid):
                doc = self.get(cid)
                # "restarting" has nothing running: the pending restart owns it.
                if doc["State"]["Status"] not in ("running", "paused"):
                    return
                code = self.exit_code(cid)
                if code is None:
                    # No exit file yet: only runc can say whether it still runs.
                    st = self.runc.state(cid)
                    if st and st.get("status") in ("running", "paused", "created"):
                        return
                    if st and not settle:
                        return  # stopped: conmon is about to write the exit file
                if code is None:
                    code = 137 if doc["Fabric"].get("Killed") else 255
                oom = self._oom_killed(cid)
                auto_remove = doc["HostConfig"].get("AutoRemove")
                if not auto_remove:
                    self._teardown_runtime(doc)   # removal below tears down otherwise
                doc["State"].update(Status="exited", Running=False, Paused=False,
                                    Restarting=False, Pid=0, ExitCode=code, OOMKilled=oom,
                                    FinishedAt=now_iso())
                doc["Fabric"].pop("Killed", None)
                self.save(doc)
                if auto_remove:
                    if len(self._final_codes) > 1000:
                        self._final_codes.clear()
                    self._final_codes[cid] = code
                    self._remove_locked(doc, volumes=True)
                    return
                if self._should_restart(doc):
                    self._schedule_restart(doc)
        except NotFound:
            return

    def _oom_killed(self, cid: str) -> bool:
        try:
            with open(f"/sys/fs/cgroup/memory/fabric/{cid}/memory.oom_control") as f:
                return "oom_kill 1" in f.read()
        except OSError:
            return False

    def _should_restart(self, doc: dict) -> bool:
        rp = doc["HostConfig"]["RestartPolicy"]
        if doc["Fabric"].get("ManualStop"):
            return False
        name = rp.get("Name")
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and doc["State"]["ExitCode"] != 0:
            mx = rp.get("MaximumRetryCount") or 0
            return not mx or doc["RestartCount"] < mx
        return False

    def _schedule_restart(self, doc: dict) -> None:
        """Docker's back-off: 100 ms doubling per restart, reset when the container ran
        for ten seconds or more."""
        cid = doc["Id"]
        ran = parse_iso(doc["State"]["FinishedAt"]) - parse_iso(doc["State"]["StartedAt"])
        streak = 0 if ran >= 10 else doc["Fabric"].get("RestartStreak", 0)
        delay = min(0.1 * (2 ** streak), 60.0)
        doc["Fabric"]["RestartStreak"] = streak + 1
        doc["State"].update(Status="restarting", Restarting=True)
        self.save(doc)

        def fire() -> None:
            self._restart_timers.pop(cid, None)
            try:
                with self.lock(cid):
                    d = self.get(cid)
                    if d["State"]["Status"] != "restarting":
                        return
                    d["RestartCount"] += 1
                    self._start_locked(d)
            except FabricError as e:
                print(f"restart of {cid[:12]} failed: {e}", file=sys.stderr)
        t = threading.Timer(delay, fire)
        t.daemon = True
        self._restart_timers[cid] = t
        t.start()

    def _cancel_restart(self, cid: str) -> None:
        t = self._restart_timers.pop(cid, None)
        if t:
            t.cancel()

    def _teardown_runtime(self, doc: dict) -> None:
        """Everything a run made, in reverse: runc state, network, netns, root mount.
        Already-gone is success."""
        cid = doc["Id"]
        # runc's cleanup (a process start and cgroup removal) needs nothing of the
        # network's: run it beside the network teardown.
        runc_done = _Background(self._runc_delete, cid)
        self._best_effort(cid, lambda: self._teardown_network(doc),
                          lambda: rootfs.unmount(self.cdir(cid)), runc_done.result)

    def _teardown_network(self, doc: dict) -> None:
        cid = doc["Id"]
        ending = self.engine.network.owns_sandbox(doc) and not self._sandbox_shared(cid)
        self._best_effort(cid, lambda: self.engine.network.detach(doc, sandbox_ending=ending),
                          lambda: sandbox.remove(cid))

    @staticmethod
    def _best_effort(cid: str, *steps) -> None:
        """Run every step; report failures together: teardown goes as far as it can."""
        errors = []
        for step in steps:
            try:
                step()
            except Exception as e:
                errors.append(str(e))
        if errors:
            print(f"teardown of {cid[:12]}: {'; '.join(errors)}", file=sys.stderr)

    def _sandbox_shared(self, cid: str) -> bool:
        """Whether another container joined this one's namespace (`--network
        container:`), which then outlives this teardown. Conservative: a stopped
        joiner's stale SandboxKey counts too, costing only the slower explicit cleanup."""
        key = json.dumps({"SandboxKey": sandbox.netns_path(cid)})[1:-1]
        return self.store.one("SELECT 1 FROM containers WHERE id != ? AND instr(doc, ?) > 0",
                              (cid, key)) is not None

    def _runc_delete(self, cid: str) -> None:
        # runc costs a process start; skip it when runc holds no state for the container.
        if os.path.isdir(os.path.join(self.root.runc_root, cid)):
            self.runc.delete(cid, force=True)

    # ---- stop, kill, pause -----------------------------------------------------------------
    def stop(self, ref: str, timeout: int | None = None) -> bool:
        """Return False when it was not running (Docker answers 304)."""
        cid = self.id_of(ref)
        with self.lock(cid):
            doc = self.get(cid)
            self._cancel_restart(cid)
            doc["Fabric"]["ManualStop"] = True
            if doc["State"]["Status"] == "restarting":
                doc["State"].update(Status="exited", Restarting=False)
                self.save(doc)
                return True
            if doc["State"]["Status"] not in ("running", "paused"):
                self.save(doc)
                return False
            self.save(doc)
            if timeout is None:
                timeout = doc["Config"].get("StopTimeout") or 10
            sig = doc["Config"].get("StopSignal") or "TERM"
            if doc["State"]["Status"] == "paused":
                self.runc.resume(cid)
            self.runc.kill(cid, str(signal_number(sig)))
        if not self._wait_exit(cid, timeout):
            with self.lock(cid):
                doc = self.get(cid)
                doc["Fabric"]["Killed"] = True
                self.save(doc)
                self.runc.kill(cid, "KILL", all_procs=True)
            self._wait_exit(cid, 10)
        self.on_exit(cid, settle=True)
        return True

    def _wait_exit(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(conmon.exit_file(self.root.exits, cid)):
                return True
            st = self.runc.state(cid)
            if not st or st.get("status") == "stopped":
                # Gone; give conmon a moment to record the exit code.
                end = time.monotonic() + 1
                while time.monotonic() < end and not os.path.exists(
                        conmon.exit_file(self.root.exits, cid)):
                    time.sleep(0.01)
                return True
            time.sleep(0.02)
        return False

    def kill(self, ref: str, sig: str = "KILL") -> None:
        cid = self.id_of(ref)
        num = signal_number(sig)
        with self.lock(cid):
            doc = self.get(cid)
            if doc["State"]["Status"] not in ("running", "paused"):
                raise NotRunning(f"Cannot kill container: {ref}: Container {cid} is not running")
            if num == signals.SIGKILL:
                doc["Fabric"]["Killed"] = True
            # Docker: a container killed by the user is not restarted by `always`... until
            # the daemon restarts; on-failure still applies.
            if doc["HostConfig"]["RestartPolicy"]["Name"] != "on-failure":
                doc["Fabric"]["ManualStop"] = num in (signals.SIGKILL, signals.SIGTERM)
            self.save(doc)
            if doc["State"]["Status"] == "paused" and num == signals.SIGKILL:
                self.runc.kill(cid, str(num), all_procs=True)
                self.runc.resume(cid)
            else:
                self.runc.kill(cid, str(num))

    def pause(self, ref: str) -> None:
        cid = self.id_of(ref)
        with self.lock(cid):
            doc = self.get(cid)
            if doc["State"]["Status"] != "running":
                raise NotRunning(f"Container {cid} is not running")
            self.runc.pause(cid)
            doc["State"].update(Status="paused", Paused=True)
            self.save(doc)

    def unpause(self, ref: str) -> None:
        cid = self.id_of(ref)
        with self.lock(cid):
            doc = self.get(cid)
            if doc["State"]["Status"] != "paused":
                raise Conflict(f"Container {cid} is not paused")
            self.runc.resume(cid)
            doc["State"].update(Status="running", Paused=False)
            self.save(doc)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        cid = self.id_of(ref)
        self.stop(cid, timeout)
        self.start(cid)

    # ---- remove, rename ----------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        cid = self.id_of(ref)
        if force:
            with self.lock(cid):
                doc = self.get(cid)
                active = doc["State"]["Status"] in ACTIVE
                if active:
                    self._cancel_restart(cid)
                    doc["Fabric"]["ManualStop"] = True
                    doc["HostConfig"]["AutoRemove"] = False
                    doc["Fabric"]["Killed"] = True
                    if doc["State"]["Status"] == "restarting":
                        # Nothing runs between two runs; the cancelled restart was all.
                        doc["State"].update(Status="exited", Restarting=False)
                        active = False
                    self.save(doc)
                    if active:
                        self.runc.kill(cid, "KILL", all_procs=True)
                        if doc["State"]["Status"] == "paused":
                            self.runc.resume(cid)
            if active:
                self._wait_exit(cid, 10)
                self.on_exit(cid, settle=True)
        with self.lock(cid):
            try:
                doc = self.get(cid)
            except NotFound:
                return
            if doc["State"]["Status"] in ("running", "paused", "restarting"):
                raise Conflict(f"You cannot remove a {doc['State']['Status']} container {cid}. "
                               "Stop the container before attempting removal or force remove")
            self._remove_locked(doc, volumes)

    def _remove_locked(self, doc: dict, volumes: bool) -> None:
        """The network goes now (addresses, firewall, peers' hosts files), then the row;
        runc's state, the root mount and the directory go on a thread, off the path of
        `rm` and `run --rm`. A daemon that dies before that thread ends leaves a
        directory with no row, which reconcile removes (_remove_orphan_dirs)."""
        cid = doc["Id"]
        doc["State"]["Status"] = "removing"
        self.save(doc)
        self._teardown_network(doc)
        self.engine.network.removed(doc)
        with self.store.tx() as c:
            c.execute("DELETE FROM containers WHERE id=?", (cid,))
        if volumes:
            self._drop_anonymous_volumes(doc)
        try:
            os.unlink(conmon.exit_file(self.root.exits, cid))
        except FileNotFoundError:
            pass
        with self._changed:
            self._changed.notify_all()
        threading.Thread(target=self._dispose, args=(cid,), daemon=True,
                         name=f"dispose-{cid[:12]}").start()

    def _dispose(self, cid: str) -> None:
        self._best_effort(cid, lambda: self._runc_delete(cid),
                          lambda: rootfs.destroy(self.cdir(cid)))

    def rename(self, ref: str, new: str) -> None:
        if not new or not names.valid(new):
            raise InvalidArgument(f"Invalid container name ({new}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        cid = self.id_of(ref)
        with self.lock(cid):
            doc = self.get(cid)
            old = doc["Name"]
            doc["Name"] = "/" + new.lstrip("/")
            try:
                self.save(doc)
            except sqlite3.IntegrityError:
                raise Conflict(f'Error when allocating new name: Conflict. The container name '
                               f'"/{new}" is already in use') from None
            self.engine.network.renamed(doc, old)

    # ---- wait ------------------------------------------------------------------------------
    def wait(self, ref: str, condition: str = "not-running", timeout: float | None = None) -> dict:
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid wait condition {condition!r}")
        try:
            first = self.get(ref)   # one read: the row can go between two
        except NotFound:
            # `run --rm` asks once its output ends, and a short-lived container can be
            # gone by then; its exit code is still the answer (Docker's CLI avoids the
            # race by asking before it starts the container).
            if condition == "removed" and ref in self._final_codes:
                return {"StatusCode": self._final_codes[ref], "Error": None}
            raise
        cid = first["Id"]
        deadline = None if timeout is None else time.monotonic() + timeout
        seen_start = first["State"]["StartedAt"]
        last_code = first["State"]["ExitCode"]
        with self._changed:
            while True:
                try:
                    doc = self.get(cid)
                except NotFound:
                    return {"StatusCode": self._final_codes.get(cid, last_code), "Error": None}
                last_code = doc["State"]["ExitCode"]
                st = doc["State"]["Status"]
                if condition == "not-running" and st in ("created", "exited", "dead"):
                    return {"StatusCode": last_code, "Error": None}
                if condition == "next-exit" and st in ("exited", "dead", "restarting") and \
                        (doc["State"]["StartedAt"] != seen_start or first["State"]["Running"]):
                    return {"StatusCode": last_code, "Error": None}
                if deadline is not None and time.monotonic() > deadline:
                    raise FabricError("timed out waiting for the container")
                self._changed.wait(0.5)

    # ---- reconcile ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        """After a daemon (re)start: adopt live containers, settle the ones that exited
        while no daemon was up, remove half-made ones, restart by policy."""
        for doc in self.all():
            cid = doc["Id"]
            st = doc["State"]["Status"]
            try:
                if st == "removing":
                    with self.lock(cid):
                        self._remove_locked(doc, volumes=True)
                    continue
                if not os.path.isdir(self.cdir(cid)):
                    with self.store.tx() as c:
                        c.execute("DELETE FROM containers WHERE id=?", (cid,))
                    continue
                if st in ACTIVE:
                    live = self.runc.state(cid)
                    if live and live.get("status") in ("running", "paused"):
                        self._watch(cid, live["pid"])
                        continue
                    if st == "restarting":
                        doc["State"]["Status"] = "exited"
                        self.save(doc)
                        self._restart_after_daemon_start(doc)
                        continue
                    self.on_exit(cid, settle=True)
                    continue
                if os.path.isdir(os.path.join(self.root.runc_root, cid)) or \
                        rootfs.is_mounted(rootfs.paths(self.cdir(cid))[0]):
                    # A start interrupted before it was recorded: undo what it made.
                    self._teardown_runtime(doc)
                if st == "exited":
                    self._restart_after_daemon_start(doc)
            except Exception as e:
                print(f"reconcile {cid[:12]}: {e}", file=sys.stderr)
        self._remove_orphan_dirs()

    def _remove_orphan_dirs(self) -> None:
        """A removal interrupted after its row was deleted leaves only a directory."""
        known = {r["id"] for r in self.store.query("SELECT id FROM containers")}
        for cid in os.listdir(self.root.containers):
            if cid not in known and len(cid) == 64:
                self._runc_delete(cid)
                sandbox.remove(cid)
                rootfs.destroy(self.cdir(cid))

    def _restart_after_daemon_start(self, doc: dict) -> None:
        """Docker restarts `always` (even after a manual stop) and `unless-stopped`
        containers (unless stopped by hand) when the daemon starts."""
        rp = doc["HostConfig"]["RestartPolicy"]["Name"]
        if rp == "always" or (rp == "unless-stopped" and not doc["Fabric"].get("ManualStop")):
            try:
                self.start(doc["Id"])
            except FabricError as e:
                print(f"restart of {doc['Id'][:12]} failed: {e}", file=sys.stderr)
