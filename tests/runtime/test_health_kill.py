"""A health check that outlasts its timeout before runc has even started it (a loaded
machine): what runc starts after the timeout is killed all the same."""

import os
import subprocess
import sys
import time

from fabric.engine.health import probe

# stands in for `runc exec --pid-file`: the check's process starts, and its pid is
# written, only after a while
SLOW_RUNC = """
import os, subprocess, sys, time
time.sleep(0.4)
child = subprocess.Popen(["sleep", "30"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(child.pid))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
child.wait()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_check_started_after_its_timeout_is_killed_with_its_runc(tmp_path):
    pidfile = str(tmp_path / "pid")
    runc = subprocess.Popen([sys.executable, "-c", SLOW_RUNC, pidfile])
    probe._kill(runc, pidfile)              # the timeout, before the pid file exists
    assert runc.poll() is not None
    with open(pidfile) as f:
        check = int(f.read())
    deadline = time.monotonic() + 2
    while _alive(check) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = _alive(check)
    if alive:
        os.kill(check, 9)
    assert not alive, "the check's process outlived its timeout"
