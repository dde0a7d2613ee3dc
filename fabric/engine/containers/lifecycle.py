"""Running containers' transitions: stop, kill, pause, unpause, restart; and rename."""

import signal as signals
import sqlite3

from fabric.engine import names
from fabric.engine.containers.part import Part
from fabric.engine.signals import signal_number
from fabric.errors import Conflict, InvalidArgument, NotRunning


class Lifecycle(Part):
    def stop(self, ref: str, timeout: int | None = None) -> bool:
        """Return False when it was not running (Docker answers 304)."""
        records, runc, exits = self.records, self.engine.runc, self.ctrs.exits
        cid = records.id_of(ref)
        with records.lock(cid):
            doc = records.get(cid)
            self.ctrs.restarts.cancel(cid)
            doc["Fabric"]["ManualStop"] = True
            if doc["State"]["Status"] == "restarting":
                doc["State"].update(Status="exited", Restarting=False)
                records.save(doc)
                return True
            if doc["State"]["Status"] not in ("running", "paused"):
                records.save(doc)
                return False
            self.ctrs.health.stop(doc)   # as Docker: no checks while it stops
            records.save(doc)
            if timeout is None:
                timeout = doc["Config"].get("StopTimeout") or 10
            sig = doc["Config"].get("StopSignal") or "TERM"
            if doc["State"]["Status"] == "paused":
                runc.resume(cid)
            runc.kill(cid, str(signal_number(sig)))
        if not exits.wait_exit(cid, timeout):
            with records.lock(cid):
                doc = records.get(cid)
                doc["Fabric"]["Killed"] = True
                records.save(doc)
                runc.kill(cid, "KILL", all_procs=True)
            exits.wait_exit(cid, 10)
        exits.on_exit(cid, settle=True)
        self.ctrs.events.container("stop", records.get(cid))
        return True

    def kill(self, ref: str, sig: str = "KILL") -> None:
        records, runc = self.records, self.engine.runc
        cid = records.id_of(ref)
        num = signal_number(sig)
        with records.lock(cid):
            doc = records.get(cid)
            if doc["State"]["Status"] not in ("running", "paused"):
                raise NotRunning(f"Cannot kill container: {ref}: Container {cid} is not running")
            if num == signals.SIGKILL:
                doc["Fabric"]["Killed"] = True
            # Docker: a container killed by the user is not restarted by `always`... until
            # the daemon restarts; on-failure still applies.
            if doc["HostConfig"]["RestartPolicy"]["Name"] != "on-failure":
                doc["Fabric"]["ManualStop"] = num in (signals.SIGKILL, signals.SIGTERM)
            records.save(doc)
            self.ctrs.events.container("kill", doc, signal=num)
            if doc["State"]["Status"] == "paused" and num == signals.SIGKILL:
                runc.kill(cid, str(num), all_procs=True)
                runc.resume(cid)
            else:
                runc.kill(cid, str(num))

    def pause(self, ref: str) -> None:
        self._freeze(ref, True)

    def unpause(self, ref: str) -> None:
        self._freeze(ref, False)

    def _freeze(self, ref: str, pause: bool) -> None:
        """runc freezes (or thaws) the container's cgroup; its state follows."""
        cid = self.records.id_of(ref)
        with self.records.lock(cid):
            doc = self.records.get(cid)
            if pause and doc["State"]["Status"] != "running":
                raise NotRunning(f"Container {cid} is not running")
            if not pause and doc["State"]["Status"] != "paused":
                raise Conflict(f"Container {cid} is not paused")
            (self.engine.runc.pause if pause else self.engine.runc.resume)(cid)
            doc["State"].update(Status="paused" if pause else "running", Paused=pause)
            if pause:
                self.ctrs.health.stop(doc)   # a frozen container cannot run its check
            self.records.save(doc)
            if not pause:
                self.ctrs.health.watch(doc)
            self.ctrs.events.container("pause" if pause else "unpause", doc)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        cid = self.records.id_of(ref)
        self.stop(cid, timeout)
        self.ctrs.start(cid)
        self.ctrs.events.container("restart", self.records.get(cid))

    def rename(self, ref: str, new: str) -> None:
        if not new or not names.valid(new):
            raise InvalidArgument(f"Invalid container name ({new}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        cid = self.records.id_of(ref)
        with self.records.lock(cid):
            doc = self.records.get(cid)
            old = doc["Name"]
            doc["Name"] = "/" + new.lstrip("/")
            try:
                self.records.save(doc)
            except sqlite3.IntegrityError:
                raise Conflict(f'Error when allocating new name: Conflict. The container name '
                               f'"/{new}" is already in use') from None
            self.engine.network.renamed(doc, old)
            self.ctrs.events.container("rename", doc, oldName=old)
