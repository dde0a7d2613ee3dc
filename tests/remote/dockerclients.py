"""Running Docker's own clients (the docker CLI, docker-compose) against a lab host's
daemon, for the tests of the API over the socket and over TCP with TLS.

The docker CLI is Debian's (`docker.io`, 20.10, API 1.41), called by its path: a newer
client elsewhere on PATH would speak another API version. No dockerd is needed or
started. Tests that need a client the machine lacks are skipped, saying which package
brings it (./setup.sh installs them)."""

import os
import pty
import select
import shutil
import signal
import subprocess
import time

import pytest

DOCKER = "/usr/bin/docker"
COMPOSE = "/usr/bin/docker-compose"


def need(path: str, package: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is missing: Debian's {package} package brings it "
                    "(./setup.sh installs it)")
    return path


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out!r} err={self.err!r}>"


def clean_env(**extra: str) -> dict:
    """The environment of a user with none of Docker's or fabric's variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "FABRIC_"))}
    env.update(extra)
    return env


def run(argv: list[str], env: dict, input: str | None = None, check: bool = True,
        timeout: float = 30, cwd: str | None = None) -> Run:
    p = subprocess.run(argv, input=input, capture_output=True, text=True, env=env,
                       timeout=timeout, cwd=cwd, stdin=None if input is not None
                       else subprocess.DEVNULL)
    r = Run(p.returncode, p.stdout, p.stderr)
    if check and r.code != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {r}")
    return r


def in_pty(argv: list[str], env: dict, typed: bytes, timeout: float = 20) -> tuple[int, bytes]:
    """Run argv on a terminal, type `typed` once it has started; its exit code and all
    it wrote to the terminal."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    out = b""
    start = time.monotonic()
    deadline = start + timeout
    sent = False
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data and p.poll() is not None:
                    break
                out += data
            elif p.poll() is not None:
                break
            if not sent and time.monotonic() > start + 0.5:   # the client is up
                os.write(master, typed)
                sent = True
        else:
            os.killpg(p.pid, signal.SIGKILL)
            raise AssertionError(f"{argv} did not end: {out!r}")
        return p.wait(5), out
    finally:
        os.close(master)


class Docker:
    """Debian's docker CLI pointed at a lab host's daemon through DOCKER_HOST."""

    def __init__(self, host, config_dir: str, path: str = DOCKER):
        self.host, self.path = host, path
        self.env = clean_env(DOCKER_HOST=f"unix://{host.host.socket}",
                             DOCKER_CONFIG=config_dir)

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 30) -> Run:
        return run([self.path, *args], self.env, input=input, check=check, timeout=timeout)


def has(cmd: str) -> bool:
    return shutil.which(cmd) is not None
