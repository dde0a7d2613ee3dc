"""A root's daemon: started inside its host's namespace, found by its pidfile, stopped.

Starting is race-free without a lock of our own: every racing starter may spawn a
daemon, but a daemon only serves after taking the root's exclusive lock, and a loser
exits quietly; starters just retry connecting until the winner's socket answers.
The CLI starts daemons through here too (fabric.client.connect), so this module stays
on the standard library.
"""

import os
import signal
import socket
import sys
import time

from fabric import procs
from fabric.errors import Conflict, FabricError, NotFound
from fabric.paths import HostRoot

NETNS_DIR = "/run/netns"


def pid(root: HostRoot) -> int | None:
    """The pid of the daemon serving this root, None when none runs."""
    p = procs.read_pid(root.lock)
    if p and procs.alive(p) and procs.belongs_to(p, root.path):
        return p
    return None


def answers(root: HostRoot) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(root.socket)
        return True
    except OSError:
        return False
    finally:
        s.close()


def spawn(root: HostRoot, netns: str | None = None):
    """Start a daemon for the root, inside the named namespace (None: the caller's);
    returns its Popen. It may lose the race to another one and exit 0."""
    import subprocess
    if os.path.exists(root.removing):
        raise Conflict(f"{root.path} is being removed; its daemon may not start")
    # -P: `-m` would otherwise put the working directory first on sys.path, and a
    # checkout of fabric there (a benchmark's older build, a developer's tree) would be
    # imported instead of this install.
    cmd = [sys.executable, "-P", "-m", "fabric.daemon", "--root", root.path]
    if netns is not None:
        ns_path = os.path.join(NETNS_DIR, netns)
        if not os.path.exists(ns_path):
            raise NotFound(f"network namespace {netns} is gone (the machine restarted?); "
                           f"remove the host and add it again")
        # nsenter setns()es and execs: the daemon is the process it started, nothing
        # runs in between, and its threads and children are all in the namespace
        cmd = ["nsenter", f"--net={ns_path}", *cmd]
    os.makedirs(root.path, mode=0o711, exist_ok=True)
    os.close(os.open(root.daemon_log, os.O_WRONLY | os.O_CREAT, 0o600))  # it may quote secrets
    with open(root.daemon_log, "ab") as log:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                                start_new_session=True, close_fds=True)


def start(root: HostRoot, netns: str | None = None, timeout: float = 20.0) -> None:
    """Make sure the root's daemon answers, starting it when it does not."""
    if answers(root):
        return
    proc = spawn(root, netns)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        if answers(root):
            return
        # A daemon that lost the start race exits 0; one that failed exits non-zero.
        if proc.poll() not in (None, 0):
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    raise FabricError(f"the fabric daemon did not start{_last_words(root)}; see "
                      f"{root.daemon_log}")


def stop(root: HostRoot, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Signal the root's daemon and wait until it is gone, killing it when it outlasts
    the timeout; False when none was running."""
    return procs.stop(pid(root), sig, timeout)


def _last_words(root: HostRoot) -> str:
    """The daemon's last log line, which usually says why it stopped."""
    try:
        with open(root.daemon_log, "rb") as f:
            f.seek(max(0, os.path.getsize(root.daemon_log) - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f" ({lines[-1].strip()})" if lines else ""
