"""The container lifecycle: create, start, stop, kill, pause, remove, restart policies,
and reconciling the store with what runc and conmon report after a daemon restart.

States follow Docker's: created, running, paused, restarting, removing, exited, dead.
Every transition is written to the store before the kernel is touched where a crash
could otherwise leave an object nobody knows of, and `reconcile` repairs the rest.

Each concern has a module of its own; `Containers` holds one of each, lets them reach
one another, and keeps the methods the rest of the engine and the daemon call:

    records         rows, per-container locks, change notification (shared by all)
    part            the base of the parts below: the engine, the records, the others
    create          validation and the new row and directory
    start           mounts, network and conmon/runc; --explain and --dry-run lines
    lifecycle       stop, kill, pause, unpause, restart, rename
    exits           noticing an exit and recording it; hands over to --rm or restarts
    restart_policy  Docker's policies and back-off timers, restarts at daemon start
    removal         rm, the removal --rm runs, forgetting a half-made container
    teardown        undoing a run: runc state, network, namespace, root mount
    wait            `wait` and the exit codes of containers already removed
    reconcile       repairing the store after a daemon restart
    background      running a step beside another on a thread

The health checkers (fabric.engine.health) are one more part: started with a run,
stopped with it.
"""

from typing import TYPE_CHECKING

from fabric.engine import logwatch
from fabric.engine.containers.create import Creation
from fabric.engine.containers.exits import Exits
from fabric.engine.containers.lifecycle import Lifecycle
from fabric.engine.containers.reconcile import Reconciler
from fabric.engine.containers.records import Records
from fabric.engine.containers.removal import Removal
from fabric.engine.containers.restart_policy import RestartPolicy
from fabric.engine.containers.start import Starting
from fabric.engine.containers.teardown import Teardown
from fabric.engine.containers.wait import Waits
from fabric.engine.events import Events
from fabric.engine.health.checker import Checkers

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from fabric.engine.engine import Engine


class Containers:
    def __init__(self, engine: "Engine"):
        self.engine = engine
        self.events = Events()   # the engine's event stream (GET /events)
        self.records = Records(engine)
        self.creation = Creation(self)
        self.starting = Starting(self)
        self.lifecycle = Lifecycle(self)
        self.exits = Exits(self)
        self.restarts = RestartPolicy(self)
        self.removal = Removal(self)
        self.teardown = Teardown(self)
        self.waits = Waits(self)
        self.reconciler = Reconciler(self)
        self.health = Checkers(self)
        self.logs = logwatch.LogKeeper()   # keeps the log files conmon rotates away

    # ---- the store -------------------------------------------------------------------
    def get(self, ref: str) -> dict:
        return self.records.get(ref)

    def id_of(self, ref: str) -> str:
        return self.records.id_of(ref)

    def save(self, doc: dict) -> None:
        self.records.save(doc)

    def all(self) -> list[dict]:
        return self.records.all()

    def lock(self, cid: str) -> "threading.RLock":
        return self.records.lock(cid)

    def cdir(self, cid: str) -> str:
        return self.records.cdir(cid)

    # ---- the lifecycle ---------------------------------------------------------------
    def create(self, body: dict, name: str | None = None) -> dict:
        return self.creation.create(body, name)

    def start(self, ref: str, explain: list[str] | None = None) -> None:
        self.starting.start(ref, explain)

    def describe_start(self, ref: str) -> list[str]:
        return self.starting.describe(ref)

    def stop(self, ref: str, timeout: int | None = None) -> bool:
        return self.lifecycle.stop(ref, timeout)

    def kill(self, ref: str, sig: str = "KILL") -> None:
        self.lifecycle.kill(ref, sig)

    def pause(self, ref: str) -> None:
        self.lifecycle.pause(ref)

    def unpause(self, ref: str) -> None:
        self.lifecycle.unpause(ref)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        self.lifecycle.restart(ref, timeout)

    def rename(self, ref: str, new: str) -> None:
        self.lifecycle.rename(ref, new)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.removal.remove(ref, force, volumes)

    def wait(self, ref: str, condition: str = "not-running",
             timeout: float | None = None, gone: "Callable[[], bool] | None" = None) -> dict:
        return self.waits.wait(ref, condition, timeout, gone)

    def on_exit(self, cid: str, settle: bool = False) -> None:
        self.exits.on_exit(cid, settle)

    def reconcile(self) -> None:
        self.reconciler.reconcile()
