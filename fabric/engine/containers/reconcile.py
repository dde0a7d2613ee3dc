"""After a daemon (re)start: make the store agree with what runc, conmon and the
filesystem say happened while no daemon was up."""

import os
import sys

from fabric.engine.config import container_log_limits
from fabric.engine.containers.part import Part
from fabric.engine.containers.records import ACTIVE
from fabric.runtime import rootfs, sandbox


class Reconciler(Part):
    def reconcile(self) -> None:
        """Adopt live containers, settle the ones that exited while no daemon was up,
        remove half-made ones, restart by policy."""
        records, ctrs = self.records, self.ctrs
        self.make_private()
        for doc in records.all():
            cid = doc["Id"]
            st = doc["State"]["Status"]
            try:
                if st == "removing":
                    with records.lock(cid):
                        ctrs.removal.remove_locked(doc, volumes=True)
                    continue
                if not os.path.isdir(records.cdir(cid)):
                    records.delete(cid)
                    continue
                if st in ACTIVE:
                    live = self.engine.runc.state(cid)
                    if live and live.get("status") in ("running", "paused"):
                        ctrs.exits.watch(cid, live["pid"])
                        ctrs.logs.watch(records.cdir(cid),
                                        container_log_limits(doc["HostConfig"])[1])
                        if st == "running":
                            ctrs.health.watch(doc)   # where it was: the record holds it
                        continue
                    if st == "restarting":
                        doc["State"]["Status"] = "exited"
                        records.save(doc)
                        ctrs.restarts.after_daemon_start(doc)
                        continue
                    ctrs.exits.on_exit(cid, settle=True)
                    continue
                if os.path.isdir(os.path.join(self.engine.root.runc_root, cid)) or \
                        rootfs.is_mounted(rootfs.paths(records.cdir(cid))[0]):
                    # A start interrupted before it was recorded: undo what it made.
                    ctrs.teardown.runtime(doc)
                if st == "exited":
                    ctrs.restarts.after_daemon_start(doc)
            except Exception as e:
                print(f"reconcile {cid[:12]}: {e}", file=sys.stderr)
        self.remove_orphan_dirs()

    def make_private(self) -> None:
        """Containers' directories 0700 and what holds their environment or output
        0600, whatever an older fabric left (HostRoot.ensure does the root's top)."""
        base = self.engine.root.containers
        for cid in os.listdir(base):
            cdir = os.path.join(base, cid)
            try:
                os.chmod(cdir, 0o700)
                for name in os.listdir(cdir):
                    if name == "config.json" or name.startswith("ctr.log"):
                        os.chmod(os.path.join(cdir, name), 0o600)
            except OSError:
                pass   # a container being removed meanwhile

    def remove_orphan_dirs(self) -> None:
        """A removal interrupted after its row was deleted leaves only a directory."""
        known = self.records.ids()
        for cid in os.listdir(self.engine.root.containers):
            if cid not in known and len(cid) == 64:
                self.ctrs.teardown.runc_delete(cid)
                sandbox.remove(cid)
                rootfs.destroy(self.records.cdir(cid))
