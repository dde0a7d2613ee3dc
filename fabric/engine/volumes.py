"""Named and anonymous volumes (driver `local`): a directory under the host root,
kept until removed explicitly, or with its container (`rm -v`, `--rm`) when anonymous."""

import json
import os
import re
import secrets
import time

from fabric.engine.timefmt import now_iso
from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.fsutil import disk_usage, rmtree
from fabric.paths import HostRoot
from fabric.store.db import Store

VALID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class Volumes:
    def __init__(self, root: HostRoot, store: Store):
        self.root, self.store = root, store

    def data_dir(self, name: str) -> str:
        return os.path.join(self.root.volumes, name, "_data")

    def _doc(self, row) -> dict:
        doc = json.loads(row["doc"])
        doc["Mountpoint"] = self.data_dir(row["name"])
        return doc

    def create(self, name: str | None = None, driver: str = "local", labels: dict | None = None,
               options: dict | None = None, anonymous: bool = False) -> dict:
        if driver not in ("local", "", None):
            raise InvalidArgument(f"volume driver {driver!r} is not available: only 'local'")
        if options:
            raise InvalidArgument("the local volume driver takes no options here")
        if not name:
            name, anonymous = secrets.token_hex(32), True
        if not VALID.match(name):
            raise InvalidArgument(f"invalid volume name {name!r}: use letters, digits, _ . - "
                                  "(at least two characters)")
        existing = self.store.one("SELECT * FROM volumes WHERE name=?", (name,))
        if existing:
            return self._doc(existing)
        doc = {"Name": name, "Driver": "local", "CreatedAt": now_iso(), "Labels": labels or {},
               "Options": options or {}, "Scope": "local"}
        os.makedirs(self.data_dir(name), mode=0o755, exist_ok=True)
        with self.store.tx() as c:
            c.execute("INSERT OR IGNORE INTO volumes(name, created, anonymous, doc) "
                      "VALUES (?, ?, ?, ?)", (name, time.time(), int(anonymous), json.dumps(doc)))
        return self.inspect(name)

    def inspect(self, name: str) -> dict:
        row = self.store.one("SELECT * FROM volumes WHERE name=?", (name,))
        if not row:
            raise NotFound(f"no such volume: {name}")
        return self._doc(row)

    def exists(self, name: str) -> bool:
        return self.store.one("SELECT 1 FROM volumes WHERE name=?", (name,)) is not None

    def is_anonymous(self, name: str) -> bool:
        row = self.store.one("SELECT anonymous FROM volumes WHERE name=?", (name,))
        return bool(row and row["anonymous"])

    def users(self, name: str) -> list[str]:
        out = []
        for r in self.store.query("SELECT name, doc FROM containers"):
            for m in json.loads(r["doc"]).get("Mounts") or []:
                if m.get("Type") == "volume" and m.get("Name") == name:
                    out.append(r["name"])
        return out

    def list(self, filters: dict | None = None) -> list[dict]:
        docs = [self._doc(r) for r in self.store.query("SELECT * FROM volumes ORDER BY name")]
        filters = filters or {}
        if "dangling" in filters:
            want = filters["dangling"][0] in ("true", "1")
            docs = [d for d in docs if (not self.users(d["Name"])) == want]
        if "name" in filters:
            docs = [d for d in docs if any(f in d["Name"] for f in filters["name"])]
        return docs

    def remove(self, name: str, force: bool = False) -> None:
        if not self.exists(name):
            if force:
                return
            raise NotFound(f"no such volume: {name}")
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use by container {users[0]}")
        with self.store.tx() as c:
            c.execute("DELETE FROM volumes WHERE name=?", (name,))
        rmtree(os.path.join(self.root.volumes, name), ignore_errors=True)

    def prune(self) -> dict:
        deleted, space = [], 0
        for d in self.list():
            if not self.users(d["Name"]):
                space += disk_usage(os.path.join(self.root.volumes, d["Name"]))
                self.remove(d["Name"])
                deleted.append(d["Name"])
        return {"VolumesDeleted": deleted, "SpaceReclaimed": space}
