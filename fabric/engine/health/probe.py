"""One health check: the check's command run as an exec in the container (the
container's user, directory and environment, as Docker's probe runs it), stdout and
stderr together into one buffer of at most 4096 bytes, and the whole process tree the
check made killed when it outlasts its timeout or the container stops.

runc runs the exec in the foreground, so its exit is the check's; its own failure to
start the command is told apart from the command's output by runc's log, and reported
as Docker reports it: exit code -1 and runc's reason as the output.
"""

import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from fabric import durations
from fabric.engine.execs import Exec, Execs
from fabric.engine.health.status import MAX_OUTPUT, Result, output_text
from fabric.engine.timefmt import now_iso

PID_WAIT = 5.0      # seconds a timed-out check's runc gets to start what it runs


def run(execs: Execs, cid: str, argv: list[str], timeout: float,
        cancelled: threading.Event) -> Result | None:
    """Run the check once; None when `cancelled` was set meanwhile (its result is moot)."""
    started, start = time.time(), now_iso()
    tmp = tempfile.mkdtemp(prefix="health-", dir=execs.engine.root.tmp)
    try:
        base, log = execs.runc_exec(Exec(secrets.token_hex(32), cid, {"Cmd": argv}), tmp)
        p = subprocess.Popen(base + [cid], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out, cut, finished = _collect(p, time.monotonic() + timeout, cancelled)
        if not finished:
            _kill(p, os.path.join(tmp, "pid"))
        code = p.wait()
        assert p.stdout is not None
        p.stdout.close()
        reason = execs.start_error(log, code) if finished else ""
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if cancelled.is_set():
        return None
    if not finished:
        text = f"Health check exceeded timeout ({durations.text(int(timeout * 1e9))})"
        return Result(start, now_iso(), -1, text, started)
    if reason:
        return Result(start, now_iso(), -1, f"OCI runtime exec failed: {reason}", started)
    return Result(start, now_iso(), code, output_text(out, cut), started)


def _collect(p: subprocess.Popen, deadline: float, cancelled: threading.Event
             ) -> tuple[bytes, bool, bool]:
    """Read the check's output until it ends: (output kept, whether some was cut, whether
    it ended by itself before the deadline and without being cancelled)."""
    assert p.stdout is not None
    fd = p.stdout.fileno()
    ended = os.pidfd_open(p.pid)
    kept = bytearray()
    cut = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or cancelled.is_set():
                return bytes(kept), cut, False
            # a short wait so that a cancel (the container stopping) is seen soon
            ready, _, _ = select.select([fd, ended], [], [], min(left, 0.25))
            if fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    return bytes(kept), cut, True
                room = MAX_OUTPUT - len(kept)
                kept += data[:max(room, 0)]
                cut = cut or len(data) > room
            elif ended in ready:
                # runc is gone but something the check left in the background still holds
                # the pipe: take what is there and stop reading.
                while select.select([fd], [], [], 0)[0] and (data := os.read(fd, 65536)):
                    room = MAX_OUTPUT - len(kept)
                    kept += data[:max(room, 0)]
                    cut = cut or len(data) > room
                return bytes(kept), cut, True
    finally:
        os.close(ended)


def _kill(p: subprocess.Popen, pidfile: str) -> None:
    """Kill the check's process and everything it started (runc follows on its own);
    runc itself when it had not started the process yet."""
    # runc writes the pid file once the process runs; a machine under load can take
    # longer than a short timeout to get there, and runc killed meanwhile would leave
    # the check running in the container with nobody to kill it
    deadline = time.monotonic() + PID_WAIT
    while not os.path.exists(pidfile) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        p.kill()
        return
    for victim in _tree(pid):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()


def _tree(pid: int) -> list[int]:
    """pid and its descendants, parents first (so none forks another after the walk)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, i = [pid], 0
    while i < len(out):
        out += children.get(out[i], [])
        i += 1
    return out
