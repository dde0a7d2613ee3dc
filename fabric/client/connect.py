"""Find the daemon for a host and start the local one when none answers.

Starting is race-free without a client-side lock: every racing client may spawn a
daemon, but a daemon only serves after taking the root's exclusive lock, and a loser
exits quietly; clients just retry connecting until the winner's socket answers.
"""

import os
import sys
import time

from fabric.client.http import Client, DaemonUnavailable
from fabric.paths import HostRoot


def resolve(host: str | None, root: str) -> tuple[str, HostRoot | None]:
    """Return the socket path and, when the daemon may be started here, its root."""
    host = host or os.environ.get("FABRIC_HOST")
    if not host:
        r = HostRoot(root)
        return r.socket, r
    if host.startswith("unix://"):
        return host[len("unix://"):], None
    if host.startswith("/"):
        return host, None
    raise SystemExit(f"Error: cannot reach host {host!r}: use -H unix:///path/to/fabric.sock")


def spawn_daemon(root: HostRoot):
    import subprocess
    os.makedirs(root.path, mode=0o711, exist_ok=True)
    log = open(root.daemon_log, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "fabric.daemon", "--root", root.path],
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                     start_new_session=True, close_fds=True)
    log.close()
    return proc


def connect(host: str | None, root: str, timeout: float = 20.0) -> Client:
    path, startable = resolve(host, root)
    client = Client(path)
    try:
        client.connect().close()
        return client
    except DaemonUnavailable:
        if startable is None:
            raise SystemExit(f"Error: cannot connect to the fabric daemon at unix://{path}. "
                             "Is it running?") from None
    proc = spawn_daemon(startable)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        try:
            client.connect().close()
            return client
        except DaemonUnavailable:
            # A daemon that lost the start race exits 0; one that failed exits non-zero.
            if proc.poll() not in (None, 0):
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)
    raise SystemExit(f"Error: the fabric daemon did not start{_last_words(startable)}; see "
                     f"{startable.daemon_log}")


def _last_words(root: HostRoot) -> str:
    """The daemon's last log line, which usually says why it stopped."""
    try:
        with open(root.daemon_log, "rb") as f:
            f.seek(max(0, os.path.getsize(root.daemon_log) - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f" ({lines[-1].strip()})" if lines else ""
