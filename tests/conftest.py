"""Shared fixtures: every test gets a throwaway lab host, a network namespace with its
own host root and daemon, and everything it made is removed afterwards, even when the
test fails."""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

FABRIC = [os.path.join(os.path.dirname(sys.executable), "fabric")]
BASE = "/tmp/fabric-tests"

if os.geteuid() != 0:
    pytest.exit("the fabric test suite needs root (namespaces, mounts, runc)", returncode=1)


class Result:
    def __init__(self, p: subprocess.CompletedProcess):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out!r} err={self.err!r}>"


class Host:
    """A lab host: `fab("run", ...)` runs the fabric CLI inside its namespace."""

    def __init__(self, tag: str):
        self.tag = tag
        self.netns = f"fabt-{tag}"
        self.root = os.path.join(BASE, tag)
        os.makedirs(BASE, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)

    @property
    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}"]

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env["FABRIC_ROOT"] = self.root
        return env

    def fab(self, *args: str, input: str | bytes | None = None, check: bool = True,
            timeout: float = 60) -> Result:
        text = not isinstance(input, bytes)
        p = subprocess.run(self.prefix + FABRIC + list(args), input=input, capture_output=True,
                           text=text, timeout=timeout, env=self.env())
        r = Result(p)
        if check and r.code != 0:
            raise AssertionError(f"fabric {' '.join(args)} failed: {r}")
        return r

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.prefix + FABRIC + list(args), env=self.env(), **kw)

    def sh(self, cmd: str, check: bool = True) -> Result:
        """A shell command inside the host's namespace."""
        p = subprocess.run(self.prefix + ["sh", "-c", cmd], capture_output=True, text=True,
                           timeout=60)
        r = Result(p)
        if check and r.code != 0:
            raise AssertionError(f"{cmd} failed: {r}")
        return r

    def inspect(self, name: str) -> dict:
        return json.loads(self.fab("inspect", name).out)[0]

    def api(self):
        """A client of this host's daemon, for what the CLI does not show (the API's own
        answers); the daemon must be up."""
        from fabric.client.http import Client
        from fabric.paths import HostRoot
        return Client(HostRoot(self.root).socket)

    def daemon_pid(self) -> int | None:
        try:
            with open(os.path.join(self.root, "daemon.lock")) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid and os.path.exists(f"/proc/{pid}") and _holds_lock(pid, self.root):
            return pid
        return None

    def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        pid = self.daemon_pid()
        if pid:
            os.kill(pid, sig)
            for _ in range(200):
                if not os.path.exists(f"/proc/{pid}") or _zombie(pid):
                    break
                time.sleep(0.02)

    def container_ids(self) -> list[str]:
        d = os.path.join(self.root, "containers")
        return os.listdir(d) if os.path.isdir(d) else []

    def cleanup(self) -> None:
        errors = []
        try:
            ids = self.container_ids()
            if ids and self.daemon_pid():
                self.fab("rm", "-f", "-v", *ids, check=False, timeout=60)
        except Exception as e:
            errors.append(f"rm: {e}")
        self.kill_daemon(signal.SIGTERM)
        self.kill_daemon(signal.SIGKILL)
        # Whatever the daemon could not remove: conmon and runc state for this root only.
        for cid in self.container_ids():
            cdir = os.path.join(self.root, "containers", cid)
            for pidfile in ("conmon.pid", "pidfile"):
                try:
                    with open(os.path.join(cdir, pidfile)) as f:
                        os.kill(int(f.read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            subprocess.run(["runc", "--root", os.path.join(self.root, "runc"), "delete", "-f",
                            cid], capture_output=True)
            _umount(os.path.join(cdir, "rootfs"))
            ns = f"/run/netns/fabc-{cid[:12]}"
            if os.path.exists(ns):
                _umount(ns)
                os.unlink(ns)
        # Volumes or binds mounted under the root by a half-made container.
        with open("/proc/self/mounts") as f:
            for line in reversed(f.read().splitlines()):
                mnt = line.split()[1]
                if mnt.startswith(self.root + "/"):
                    _umount(mnt)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            print("cleanup:", errors, file=sys.stderr)


def _holds_lock(pid: int, root: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return root.encode() in f.read()
    except OSError:
        return False


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


_libc = ctypes.CDLL(None, use_errno=True)


def _umount(path: str) -> None:
    _libc.umount2(path.encode(), 2)


@pytest.fixture
def host():
    h = Host(uuid.uuid4().hex[:8])
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def host2():
    h = Host(uuid.uuid4().hex[:8])
    try:
        yield h
    finally:
        h.cleanup()
