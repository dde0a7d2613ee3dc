"""A container's process ending: noticing it (a pidfd, conmon's exit file, or conmon's
exit command through the API), recording the exit code, tearing the run down, and
handing over to --rm or the restart policy."""

import os
import select
import threading
import time

from fabric.engine.config import container_log_limits
from fabric.engine.containers.part import Part
from fabric.engine.timefmt import now_iso
from fabric.errors import NotFound
from fabric.runtime import conmon


class Exits(Part):
    def exit_code(self, cid: str) -> int | None:
        try:
            with open(conmon.exit_file(self.engine.root.exits, cid)) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (FileNotFoundError, ValueError):
            return None

    def watch(self, cid: str, pid: int) -> None:
        """Notice the exit at once (a pidfd becomes readable when the process ends) so
        `run` and `wait` do not depend on conmon's exit command, which starts a process."""
        try:
            fd: int | None = os.pidfd_open(pid)
        except OSError:
            fd = None  # already gone (a quick command): still wait for conmon's exit file

        def waiter() -> None:
            if fd is not None:
                try:
                    select.select([fd], [], [])
                finally:
                    os.close(fd)
            exit_path = conmon.exit_file(self.engine.root.exits, cid)
            deadline = time.monotonic() + 10
            while not os.path.exists(exit_path) and time.monotonic() < deadline:
                time.sleep(0.001)
            self.on_exit(cid, settle=True)
        threading.Thread(target=waiter, daemon=True, name=f"watch-{cid[:12]}").start()

    def wait_exit(self, cid: str, timeout: float) -> bool:
        """Wait until the process is gone; False when it still runs after `timeout`."""
        exit_path = conmon.exit_file(self.engine.root.exits, cid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(exit_path):
                return True
            st = self.engine.runc.state(cid)
            if not st or st.get("status") == "stopped":
                # Gone; give conmon a moment to record the exit code.
                end = time.monotonic() + 1
                while time.monotonic() < end and not os.path.exists(exit_path):
                    time.sleep(0.01)
                return True
            time.sleep(0.02)
        return False

    def on_exit(self, cid: str, settle: bool = False) -> None:
        """The container's process is gone (or may be): record it, clean up, and apply
        --rm and the restart policy. Idempotent; called by the watcher, by conmon's exit
        command and by reconcile.

        conmon's exit command can arrive late, after a restart policy already started the
        next run: without an exit file, only `settle` (the caller knows conmon is gone or
        gave up waiting for it) lets a missing exit code become 137/255."""
        records = self.records
        try:
            with records.lock(cid):
                doc = records.get(cid)
                # "restarting" has nothing running: the pending restart owns it.
                if doc["State"]["Status"] not in ("running", "paused"):
                    return
                code = self.exit_code(cid)
                if code is None:
                    # No exit file yet: only runc can say whether it still runs.
                    st = self.engine.runc.state(cid)
                    if st and st.get("status") in ("running", "paused", "created"):
                        return
                    if st and not settle:
                        return  # stopped: conmon is about to write the exit file
                if code is None:
                    code = 137 if doc["Fabric"].get("Killed") else 255
                oom = self._oom_killed(cid)
                # conmon is gone: its last rename is kept, its directory no longer watched
                self.ctrs.logs.unwatch(records.cdir(cid),
                                       container_log_limits(doc["HostConfig"])[1])
                auto_remove = doc["HostConfig"].get("AutoRemove")
                if not auto_remove:
                    self.ctrs.teardown.runtime(doc)   # removal below tears down otherwise
                self.ctrs.health.stop(doc)
                doc["State"].update(Status="exited", Running=False, Paused=False,
                                    Restarting=False, Pid=0, ExitCode=code, OOMKilled=oom,
                                    FinishedAt=now_iso())
                doc["Fabric"].pop("Killed", None)
                records.save(doc)
                self.ctrs.events.died(doc)
                if auto_remove:
                    self.ctrs.waits.remember(cid, code)
                    self.ctrs.removal.remove_locked(doc, volumes=True)
                    return
                restarts = self.ctrs.restarts
                if restarts.wanted(doc):
                    restarts.schedule(doc)
        except NotFound:
            return

    @staticmethod
    def _oom_killed(cid: str) -> bool:
        try:
            with open(f"/sys/fs/cgroup/memory/fabric/{cid}/memory.oom_control") as f:
                return "oom_kill 1" in f.read()
        except OSError:
            return False
