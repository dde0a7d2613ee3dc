"""Restart policies, as Docker applies them: after an exit (with its back-off timer)
and when the daemon starts."""

import sys
import threading
from typing import TYPE_CHECKING

from fabric.engine.containers.part import Part
from fabric.engine.timefmt import parse_iso
from fabric.errors import FabricError

if TYPE_CHECKING:
    from fabric.engine.containers import Containers


class RestartPolicy(Part):
    def __init__(self, ctrs: "Containers"):
        super().__init__(ctrs)
        self._timers: dict[str, threading.Timer] = {}

    @staticmethod
    def wanted(doc: dict) -> bool:
        """Whether the policy restarts a container that just exited."""
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

    def schedule(self, doc: dict) -> None:
        """Docker's back-off: 100 ms doubling per restart, reset when the container ran
        for ten seconds or more."""
        cid = doc["Id"]
        ran = parse_iso(doc["State"]["FinishedAt"]) - parse_iso(doc["State"]["StartedAt"])
        streak = 0 if ran >= 10 else doc["Fabric"].get("RestartStreak", 0)
        delay = min(0.1 * (2 ** streak), 60.0)
        doc["Fabric"]["RestartStreak"] = streak + 1
        doc["State"].update(Status="restarting", Restarting=True)
        self.records.save(doc)

        def fire() -> None:
            self._timers.pop(cid, None)
            try:
                with self.records.lock(cid):
                    d = self.records.get(cid)
                    if d["State"]["Status"] != "restarting":
                        return
                    d["RestartCount"] += 1
                    self.ctrs.starting.start_locked(d)
            except FabricError as e:
                print(f"restart of {cid[:12]} failed: {e}", file=sys.stderr)
        t = threading.Timer(delay, fire)
        t.daemon = True
        self._timers[cid] = t
        t.start()

    def cancel(self, cid: str) -> None:
        t = self._timers.pop(cid, None)
        if t:
            t.cancel()

    def after_daemon_start(self, doc: dict) -> None:
        """Docker restarts `always` (even after a manual stop) and `unless-stopped`
        containers (unless stopped by hand) when the daemon starts."""
        rp = doc["HostConfig"]["RestartPolicy"]["Name"]
        if rp == "always" or (rp == "unless-stopped" and not doc["Fabric"].get("ManualStop")):
            try:
                self.ctrs.start(doc["Id"])
            except FabricError as e:
                print(f"restart of {doc['Id'][:12]} failed: {e}", file=sys.stderr)
