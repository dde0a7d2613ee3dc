"""The health checkers: a thread per running container that has a check, sleeping an
interval, running the check, recording the result under the container's lock and
telling `/events` when the status changes (`health_status: healthy`).

Containers without a check cost nothing: no thread, and their start and exit only look
up a key. A checker belongs to one run of its container (its StartedAt): a result that
arrives after the container stopped, paused or started again is dropped, as Docker
drops it. The status lives in the container's record, so a restarted daemon resumes
each running container's checker where it was (Reconciler)."""

import threading

from fabric.engine.containers.part import Part
from fabric.engine.health import probe, status
from fabric.engine.health.config import check_of
from fabric.engine.timefmt import parse_iso
from fabric.errors import NotFound


class Checkers(Part):
    def __init__(self, ctrs) -> None:
        super().__init__(ctrs)
        self._stops: dict[str, threading.Event] = {}
        self._guard = threading.Lock()

    def starting(self, doc: dict) -> None:
        """The container is about to be recorded as started: its health starts over."""
        if check_of(doc["Config"]) is not None:
            status.begin(doc["State"])

    def watch(self, doc: dict) -> None:
        """Run the container's checker (after a start, an unpause, a daemon restart)."""
        check = check_of(doc["Config"])
        if check is None or not doc["State"].get("Health"):
            return
        stop = threading.Event()
        with self._guard:
            old = self._stops.get(doc["Id"])
            if old is not None:
                old.set()
            self._stops[doc["Id"]] = stop
        threading.Thread(target=self._run, args=(doc["Id"], doc["State"]["StartedAt"], stop),
                         daemon=True, name=f"health-{doc['Id'][:12]}").start()

    def stop(self, doc: dict) -> None:
        """The container stops, exits or pauses (the caller holds its lock and saves):
        its checker ends, a check under way is killed, and the status reads unhealthy,
        as Docker's does."""
        if not doc["State"].get("Health"):
            return
        with self._guard:
            stop = self._stops.pop(doc["Id"], None)
        if stop is not None:
            stop.set()
        status.stopped(doc["State"])

    def _run(self, cid: str, run: str, stop: threading.Event) -> None:
        try:
            self._checks(cid, run, stop)
        finally:
            with self._guard:
                if self._stops.get(cid) is stop:
                    del self._stops[cid]

    def _checks(self, cid: str, run: str, stop: threading.Event) -> None:
        try:
            check = check_of(self.records.get(cid)["Config"])
        except NotFound:
            return
        assert check is not None
        started_at = parse_iso(run)
        while not stop.wait(check.interval):
            result = probe.run(self.engine.execs, cid, check.argv, check.timeout, stop)
            if result is None:
                return
            with self.records.lock(cid):
                if stop.is_set():
                    return
                try:
                    doc = self.records.get(cid)
                except NotFound:
                    return
                st = doc["State"]
                if st["StartedAt"] != run or st["Status"] != "running" or not st.get("Health"):
                    return
                changed = status.record(st["Health"], result, started_at, check)
                self.records.save(doc)
            if changed:
                self.ctrs.events.container(f"health_status: {changed}", doc)
