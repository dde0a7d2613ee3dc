"""A lab's state on this machine: `<labs dir>/<lab>/lab.json`.

The labs directory is $FABRIC_LABS_DIR, default /var/lib/fabric-labs. lab.json says
which file the lab came from (path and sha256), its state (making, up, failed,
removing) and what was made for it (segment namespaces, hosts), each recorded
*before* it is made, so `lab down` after a crash half way still finds it. Beside it:
`lab.yaml`, the file as it was brought up (so `lab test NAME` tests what is running),
and the embedded cluster store the lab's hosts share (`cluster.db`).

One `lab up` or `lab down` at a time per lab: they hold `lock` in the lab's directory.
"""

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager

from fabric.errors import FabricError

DEFAULT_LABS_DIR = "/var/lib/fabric-labs"


def labs_dir() -> str:
    return os.environ.get("FABRIC_LABS_DIR") or DEFAULT_LABS_DIR


def lab_dir(name: str) -> str:
    return os.path.join(labs_dir(), name)


class State:
    """lab.json of one lab; `record` and `set` write it at once (whole, atomically)."""

    def __init__(self, name: str, doc: dict | None = None):
        self.name = name
        self.dir = lab_dir(name)
        self.doc: dict = doc or {"name": name, "state": "making", "made": []}
        self._lock = threading.Lock()   # hosts are built in parallel

    @property
    def path(self) -> str:
        return os.path.join(self.dir, "lab.json")

    @property
    def copy(self) -> str:
        return os.path.join(self.dir, "lab.yaml")

    @property
    def cluster_store(self) -> str:
        return os.path.join(self.dir, "cluster.db")

    @property
    def state(self) -> str:
        return self.doc.get("state", "making")

    def made(self, kind: str) -> list[str]:
        return [m["name"] for m in self.doc.get("made", []) if m["kind"] == kind]

    def record(self, kind: str, name: str) -> None:
        """Note that `name` is about to be made (call before making it)."""
        with self._lock:
            entry = {"kind": kind, "name": name}
            if entry not in self.doc["made"]:
                self.doc["made"].append(entry)
                self._save()

    def set(self, **fields) -> None:
        with self._lock:
            self.doc.update(fields)
            self._save()

    def _save(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=1)
            f.write("\n")
        os.rename(tmp, self.path)

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            raise FabricError(f"cannot remove {self.dir}")


def load(name: str) -> State | None:
    try:
        with open(os.path.join(lab_dir(name), "lab.json")) as f:
            return State(name, json.load(f))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise FabricError(f"cannot read the state of lab {name}: {e}") from None


def names() -> list[str]:
    try:
        return sorted(n for n in os.listdir(labs_dir())
                      if os.path.isfile(os.path.join(labs_dir(), n, "lab.json")))
    except FileNotFoundError:
        return []


@contextmanager
def locked(name: str, timeout: float = 300.0):
    """Hold the lab's lock (its directory is made when missing)."""
    deadline = time.monotonic() + timeout
    while True:
        d = lab_dir(name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(d, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise FabricError(f"lab {name} is busy (another lab up or down "
                                          "holds it)") from None
                    time.sleep(0.1)
            # a `lab down` may have removed the directory while we waited
            if os.path.exists(os.path.join(d, "lock")) and \
                    os.fstat(fd).st_ino == os.stat(os.path.join(d, "lock")).st_ino:
                yield
                return
        finally:
            os.close(fd)
