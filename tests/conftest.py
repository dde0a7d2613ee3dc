"""Shared fixtures: every test gets a throwaway lab host, a network namespace with its
own host root and daemon, and everything it made is removed afterwards, even when the
test fails."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid

import pytest

FABRIC = [os.path.join(os.path.dirname(sys.executable), "fabric")]

if os.geteuid() != 0:
    pytest.exit("the fabric test suite needs root (namespaces, mounts, runc)", returncode=1)

# Every host a test makes is registered here, never among the machine's own hosts; the
# CLIs the tests run inherit it. Short, because conmon's sockets live under each root.
HOSTS_DIR = tempfile.mkdtemp(prefix="fh-", dir="/tmp")
os.environ["FABRIC_HOSTS_DIR"] = HOSTS_DIR

from fabric.host import hosts  # noqa: E402  (after FABRIC_HOSTS_DIR is set)


class Result:
    def __init__(self, p: subprocess.CompletedProcess):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out!r} err={self.err!r}>"


class Host:
    """A lab host made by fabric.host: `fab("run", ...)` runs the fabric CLI against
    it (`FABRIC_HOST=<tag>`, so the CLI starts its daemon inside its namespace), and
    `cleanup()` is the product's own teardown."""

    def __init__(self, tag: str):
        self.tag = tag
        self.host = hosts.add(tag, start=False)
        self.netns = self.host.netns
        self.root = self.host.root.path

    @property
    def prefix(self) -> list[str]:
        return self.host.command([])

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env.update(FABRIC_HOSTS_DIR=HOSTS_DIR, FABRIC_HOST=self.tag, FABRIC_ROOT=self.root)
        return env

    def fab(self, *args: str, input: str | bytes | None = None, check: bool = True,
            timeout: float = 60) -> Result:
        text = not isinstance(input, bytes)
        p = subprocess.run(FABRIC + list(args), input=input, capture_output=True,
                           text=text, timeout=timeout, env=self.env())
        r = Result(p)
        if check and r.code != 0:
            raise AssertionError(f"fabric {' '.join(args)} failed: {r}")
        return r

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(FABRIC + list(args), env=self.env(), **kw)

    def sh(self, cmd: str, check: bool = True) -> Result:
        """A shell command inside the host's namespace."""
        r = Result(self.host.run(["sh", "-c", cmd], capture_output=True, text=True,
                                 timeout=60))
        if check and r.code != 0:
            raise AssertionError(f"{cmd} failed: {r}")
        return r

    def inspect(self, name: str) -> dict:
        return json.loads(self.fab("inspect", name).out)[0]

    def api(self):
        """A client of this host's daemon, for what the CLI does not show (the API's own
        answers); the daemon must be up."""
        from fabric.client.http import Client
        return Client(self.host.socket)

    def daemon_pid(self) -> int | None:
        return self.host.daemon_pid()

    def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        self.host.stop_daemon(sig)

    def container_ids(self) -> list[str]:
        d = os.path.join(self.root, "containers")
        return os.listdir(d) if os.path.isdir(d) else []

    def cleanup(self) -> None:
        self.host.remove()


@pytest.fixture(scope="session", autouse=True)
def no_host_left_behind():
    yield
    left = [h.name for h in hosts.list_all()]
    assert not left, f"hosts left behind: {left}"


def pytest_sessionfinish(session):
    for h in hosts.list_all():
        h.remove()
    try:
        os.rmdir(HOSTS_DIR)
    except OSError as e:
        print(f"cannot remove {HOSTS_DIR}: {e}", file=sys.stderr)


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
