"""The daemon killed while containers run, racing CLIs, racing runs."""

import os
import signal
import subprocess
import time

from helpers import conmons, processes, status, wait_for


def _daemons(host) -> list[int]:
    return processes(host.root, lambda cmd: (b"daemon" in cmd or b"fabric.daemon" in cmd)
                     and not cmd[0].endswith(b"conmon"))


def test_daemon_sigkill_and_restart(host):
    host.fab("run", "-d", "--name", "live", "busybox", "sh", "-c",
             "echo before; sleep 2; echo after; exec sleep 300")
    host.fab("run", "-d", "--name", "quits", "busybox", "sh", "-c", "sleep 1; exit 7")
    gone = host.fab("run", "-d", "--name", "gone", "--rm", "busybox", "sh", "-c",
                    "sleep 1").out.strip()
    host.fab("run", "-d", "--name", "again", "--restart", "on-failure:1", "busybox", "sh",
             "-c", "sleep 1; exit 2")
    host.fab("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c",
             "sleep 1")
    pid = host.inspect("live")["State"]["Pid"]
    host.kill_daemon(signal.SIGKILL)
    assert host.daemon_pid() is None
    time.sleep(2.5)  # containers exit while no daemon is up
    assert os.path.exists(f"/proc/{pid}")
    # their exit hooks woke a daemon, which removed the --rm one, before any command
    gone_dir = os.path.join(host.root, "containers", gone)
    wait_for(lambda: host.daemon_pid() is not None and not os.path.exists(gone_dir))
    # that daemon settled what happened meanwhile
    assert status(host, "live") == "running"
    assert host.inspect("live")["State"]["Pid"] == pid
    wait_for(lambda: "after" in host.fab("logs", "live").out)
    assert host.fab("logs", "live").out == "before\nafter\n"
    assert host.fab("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "quits").out == \
        "exited 7\n"
    assert host.fab("wait", "quits").out == "7\n"
    names = host.fab("ps", "-a", "--format", "{{.Names}}").out.split()
    assert "gone" not in names
    wait_for(lambda: int(host.fab("inspect", "-f", "{{.RestartCount}}", "again").out) == 1,
             timeout=15)
    wait_for(lambda: status(host, "always") == "running" or
             int(host.fab("inspect", "-f", "{{.RestartCount}}", "always").out) >= 1, timeout=15)
    # the adopted container still stops and logs normally
    host.fab("stop", "-t", "0", "live")
    assert host.fab("wait", "live").out == "137\n"


def test_two_clis_race_to_start_the_daemon(host):
    procs = [host.popen("ps", stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.decode().startswith("CONTAINER ID")
    time.sleep(0.5)
    assert len(_daemons(host)) == 1, _daemons(host)


def test_concurrent_runs_get_distinct_names_and_ids(host):
    host.fab("ps")  # daemon up, so the runs race in the store, not in start-up
    procs = [host.popen("run", "-d", "busybox", "sleep", "300", stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE) for _ in range(6)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        ids.append(out.decode().strip())
    assert len(set(ids)) == 6
    names = host.fab("ps", "--format", "{{.Names}}").out.split()
    assert len(names) == 6 and len(set(names)) == 6
    host.fab("rm", "-f", *ids)
    wait_for(lambda: conmons(host.root) == [])


def test_concurrent_runs_on_a_fresh_root(host):
    procs = [host.popen("run", "--rm", "busybox", "echo", str(i), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE) for i in range(3)]
    outs = sorted(p.communicate(timeout=60)[0].decode().strip() for p in procs)
    assert outs == ["0", "1", "2"]
    # Every racing CLI may spawn a daemon; exactly one takes the root's lock and serves,
    # the others exit as soon as they find it taken (on a loaded machine a loser may
    # still be importing when the runs end).
    wait_for(lambda: len(_daemons(host)) == 1, timeout=20)
