"""Removing containers: `rm` (with -f, killing it first), the removal that `--rm` and
reconcile run, and forgetting a container whose creation failed half-way."""

import os
import threading
from typing import TYPE_CHECKING

from fabric.engine.containers.part import Part
from fabric.engine.containers.records import ACTIVE
from fabric.engine.containers.teardown import best_effort
from fabric.errors import Conflict, FabricError, NotFound
from fabric.fsutil import rmtree
from fabric.runtime import conmon, rootfs

if TYPE_CHECKING:
    from fabric.engine.containers import Containers


class Removal(Part):
    def __init__(self, ctrs: "Containers") -> None:
        super().__init__(ctrs)
        self._removing: set[str] = set()
        self._removing_guard = threading.Lock()

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """As Docker: while one removal runs, another of the same container is refused
        at once, and one that finds it gone says so; both name it as the caller did."""
        cid = self.records.id_of(ref)
        with self._removing_guard:
            if cid in self._removing:
                raise Conflict(f"removal of container {ref} is already in progress")
            self._removing.add(cid)
        try:
            self._remove(cid, force, volumes)
        except NotFound:
            raise NotFound(f"No such container: {ref}") from None
        finally:
            with self._removing_guard:
                self._removing.discard(cid)

    def _remove(self, cid: str, force: bool, volumes: bool) -> None:
        records, runc = self.records, self.engine.runc
        if force:
            with records.lock(cid):
                doc = records.get(cid)
                active = doc["State"]["Status"] in ACTIVE
                if active:
                    self.ctrs.restarts.cancel(cid)
                    doc["Fabric"]["ManualStop"] = True
                    doc["HostConfig"]["AutoRemove"] = False
                    doc["Fabric"]["Killed"] = True
                    if doc["State"]["Status"] == "restarting":
                        # Nothing runs between two runs; the cancelled restart was all.
                        doc["State"].update(Status="exited", Restarting=False)
                        active = False
                    records.save(doc)
                    if active:
                        self.ctrs.events.container("kill", doc, signal=9)
                        runc.kill(cid, "KILL", all_procs=True)
                        if doc["State"]["Status"] == "paused":
                            runc.resume(cid)
            if active:
                self.ctrs.exits.wait_exit(cid, 10)
                self.ctrs.exits.on_exit(cid, settle=True)
        with records.lock(cid):
            doc = records.get(cid)
            if doc["State"]["Status"] in ACTIVE:
                raise Conflict(f"You cannot remove a {doc['State']['Status']} container {cid}. "
                               "Stop the container before attempting removal or force remove")
            self.remove_locked(doc, volumes)

    def remove_locked(self, doc: dict, volumes: bool) -> None:
        """The network goes now (addresses, firewall, peers' hosts files), then the row;
        runc's state, the root mount and the directory go on a thread, off the path of
        `rm` and `run --rm`. A daemon that dies before that thread ends leaves a
        directory with no row, which reconcile removes (Reconciler.remove_orphan_dirs)."""
        cid = doc["Id"]
        doc["State"]["Status"] = "removing"
        self.records.save(doc)
        self.ctrs.teardown.network(doc)
        self.engine.network.removed(doc)
        self.records.delete(cid)
        self.ctrs.events.container("destroy", doc)
        if volumes:
            self.drop_anonymous_volumes(doc)
        try:
            os.unlink(conmon.exit_file(self.engine.root.exits, cid))
        except FileNotFoundError:
            pass
        self.records.notify()
        threading.Thread(target=self._dispose, args=(cid,), daemon=True,
                         name=f"dispose-{cid[:12]}").start()

    def _dispose(self, cid: str) -> None:
        best_effort(cid, lambda: self.ctrs.teardown.runc_delete(cid),
                    lambda: rootfs.destroy(self.records.cdir(cid)))

    def forget(self, cid: str) -> None:
        """Undo a creation that failed after its row was written."""
        doc = None
        try:
            doc = self.records.get(cid)
        except NotFound:
            pass
        self.records.delete(cid)
        if doc:
            self.drop_anonymous_volumes(doc)
        rmtree(self.records.cdir(cid), ignore_errors=True)

    def drop_anonymous_volumes(self, doc: dict) -> None:
        volumes = self.engine.volumes
        for m in doc.get("Mounts") or []:
            if m.get("Type") == "volume" and volumes.is_anonymous(m["Name"]):
                try:
                    volumes.remove(m["Name"])
                except FabricError:
                    pass
