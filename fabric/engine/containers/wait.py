"""`wait`: block until a container reaches a condition, and answer with its exit code,
also for a `--rm` container whose row is already gone."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fabric.engine.containers.part import Part
from fabric.errors import FabricError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from fabric.engine.containers import Containers


class Waits(Part):
    def __init__(self, ctrs: "Containers"):
        super().__init__(ctrs)
        # Exit codes of containers removed on exit (--rm), for `wait` callers that
        # look after the row is gone.
        self._final_codes: dict[str, int] = {}

    def remember(self, cid: str, code: int) -> None:
        """The exit code of a container about to be removed on exit."""
        if len(self._final_codes) > 1000:
            self._final_codes.clear()
        self._final_codes[cid] = code

    def wait(self, ref: str, condition: str = "not-running",
             timeout: float | None = None, gone: Callable[[], bool] | None = None) -> dict:
        """The exit code once the condition holds; `gone` tells when the one waiting
        went away (a client that disconnected), which ends the wait."""
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid wait condition {condition!r}")
        records = self.records
        try:
            first = records.get(ref)   # one read: the row can go between two
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
        with records.changed:
            while True:
                try:
                    doc = records.get(cid)
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
                if gone is not None and gone():
                    raise FabricError("the client stopped waiting")
                records.changed.wait(0.5)
