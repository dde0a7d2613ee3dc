"""The containers' rows in the store, the per-container locks that every transition
holds, and the condition `wait` sleeps on until a row changes. Every part of the
container lifecycle reads and writes containers through this one object."""

import json
import sqlite3
import threading
from typing import TYPE_CHECKING

from fabric.errors import InvalidArgument, NotFound
from fabric.runtime import sandbox

if TYPE_CHECKING:
    from fabric.engine.engine import Engine

# A process runs, or is about to run again (a restart policy's pending start).
ACTIVE = ("running", "paused", "restarting")


class Records:
    def __init__(self, engine: "Engine"):
        self.root = engine.root
        self.store = engine.store
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self.changed = threading.Condition()

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
        self.notify()

    def all(self) -> list[dict]:
        return [json.loads(r["doc"]) for r in
                self.store.query("SELECT doc FROM containers ORDER BY created DESC, rowid DESC")]

    def ids(self) -> set[str]:
        return {r["id"] for r in self.store.query("SELECT id FROM containers")}

    def cdir(self, cid: str) -> str:
        return self.root.container_dir(cid)

    def name_owner(self, name: str) -> str | None:
        row = self.store.one("SELECT id FROM containers WHERE name=?", (name,))
        return row["id"] if row else None

    def insert(self, doc: dict, name: str, created: float) -> None:
        """Raises sqlite3.IntegrityError when the name is taken."""
        with self.store.tx() as c:
            c.execute("INSERT INTO containers(id, name, image_id, created, status, doc) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      (doc["Id"], name, doc["Image"], created, "created", json.dumps(doc)))

    def delete(self, cid: str) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM containers WHERE id=?", (cid,))

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def sandbox_shared(self, cid: str) -> bool:
        """Whether another container joined this one's namespace (`--network
        container:`), which then outlives this teardown. Conservative: a stopped
        joiner's stale SandboxKey counts too, costing only the slower explicit cleanup."""
        key = json.dumps({"SandboxKey": sandbox.netns_path(cid)})[1:-1]
        return self.store.one("SELECT 1 FROM containers WHERE id != ? AND instr(doc, ?) > 0",
                              (cid, key)) is not None
