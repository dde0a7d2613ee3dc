"""An etcd server fabric runs itself: for a lab with `cluster: {store: etcd}`, and for
tests and benchmarks. Standard library only: `fabric lab up` uses it.

One member, inside a network namespace: clients on ADDRESS:PORT, its peer port on
that namespace's own loopback (nothing else reaches it, so every lab's etcd can use
2380). Everything it keeps sits in one directory: `data/`, `etcd.pid`, `etcd.log`.
Found again by its pidfile, trusted only when the process's command line names that
directory (a pid may have been reused). History is compacted by etcd itself down to
the last KEEP revisions, as the embedded store keeps its own.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

from fabric import procs
from fabric.errors import FabricError, Unavailable
from fabric.net import netns as netnsmod
from fabric.net import nsexec

KEEP = 10_000
PORT = 2379
NOT_INSTALLED = "etcd is not installed (Debian: apt-get install etcd-server)"


def installed() -> bool:
    return shutil.which("etcd") is not None


@dataclass(frozen=True)
class EtcdServer:
    dir: str            # its data, pidfile and log
    netns: str          # the namespace it runs in
    address: str        # where clients reach it
    port: int = PORT

    @property
    def url(self) -> str:
        return f"etcd://{self.address}:{self.port}"

    @property
    def pidfile(self) -> str:
        return os.path.join(self.dir, "etcd.pid")

    @property
    def log(self) -> str:
        return os.path.join(self.dir, "etcd.log")

    def command(self) -> list[str]:
        client = f"http://{self.address}:{self.port}"
        peer = "http://127.0.0.1:2380"
        return ["etcd", "--name", "fabric", "--data-dir", os.path.join(self.dir, "data"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"fabric={peer}",
                "--auto-compaction-mode", "revision",
                "--auto-compaction-retention", str(KEEP), "--logger", "zap"]

    def start(self, timeout: float = 20.0) -> None:
        """Start it (its data kept from a run before) and wait until it serves."""
        if not installed():
            raise FabricError(NOT_INSTALLED)
        if self.pid() is not None:
            return
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with open(self.log, "ab") as log:
            # nsenter setns()es and execs: the pid is etcd's own
            p = subprocess.Popen(["nsenter", f"--net={netnsmod.path(self.netns)}",
                                  *self.command()], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, cwd="/", start_new_session=True, close_fds=True)
        with open(self.pidfile, "w") as f:
            f.write(str(p.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise FabricError(f"etcd exited at start ({self._last_words()}); "
                                  f"see {self.log}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise Unavailable(f"etcd did not serve on {self.address}:{self.port} within "
                          f"{timeout:g} s; see {self.log}")

    def healthy(self) -> bool:
        """etcd answers GET /health with health true (asked from inside its namespace)."""
        def ask() -> bytes:
            with socket.create_connection((self.address, self.port), timeout=1.0) as s:
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                return b"".join(iter(lambda: s.recv(4096), b""))
        try:
            return b'"health":"true"' in nsexec.run(self.netns, ask)
        except (OSError, FabricError):
            return False

    def pid(self) -> int | None:
        p = procs.read_pid(self.pidfile)
        if p and procs.alive(p) and procs.belongs_to(p, self.dir):
            return p
        return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
        """Stop it (SIGKILL when it outlasts the timeout); False when none ran."""
        return procs.stop(self.pid(), sig, timeout)

    def _last_words(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "no log"
