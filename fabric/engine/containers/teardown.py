"""Undoing what a run made: runc's state, the network, the namespace and the root mount.
Teardown is idempotent and best effort: already-gone is success, and every step runs
even when an earlier one failed; failures are reported together."""

import os
import sys
from collections.abc import Callable
from typing import Any

from fabric.engine.containers.background import Background
from fabric.engine.containers.part import Part
from fabric.runtime import rootfs, sandbox


def best_effort(cid: str, *steps: Callable[[], Any]) -> None:
    """Run every step; report failures together: teardown goes as far as it can."""
    errors = []
    for step in steps:
        try:
            step()
        except Exception as e:
            errors.append(str(e))
    if errors:
        print(f"teardown of {cid[:12]}: {'; '.join(errors)}", file=sys.stderr)


class Teardown(Part):
    def runtime(self, doc: dict) -> None:
        """Everything a run made, in reverse: runc state, network, netns, root mount.
        Already-gone is success."""
        cid = doc["Id"]
        # runc's cleanup (a process start and cgroup removal) needs nothing of the
        # network's: run it beside the network teardown.
        runc_done = Background(self.runc_delete, cid)
        best_effort(cid, lambda: self.network(doc),
                    lambda: rootfs.unmount(self.records.cdir(cid)), runc_done.result)

    def network(self, doc: dict) -> None:
        cid = doc["Id"]
        net = self.engine.network
        ending = net.owns_sandbox(doc) and not self.records.sandbox_shared(cid)
        best_effort(cid, lambda: net.detach(doc, sandbox_ending=ending),
                    lambda: sandbox.remove(cid))

    def runc_delete(self, cid: str) -> None:
        # runc costs a process start; skip it when runc holds no state for the container.
        if os.path.isdir(os.path.join(self.engine.root.runc_root, cid)):
            self.engine.runc.delete(cid, force=True)
