"""Restart policies with their counts, and bad input that must leave nothing behind."""

import time

from helpers import assert_clean, status, wait_for


def _rc(host, name):
    return int(host.fab("inspect", "-f", "{{.RestartCount}}", name).out)


def test_on_failure_max_retries(host):
    host.fab("run", "-d", "--name", "f", "--restart", "on-failure:2", "busybox", "sh", "-c",
             "exit 3")
    wait_for(lambda: _rc(host, "f") == 2 and status(host, "f") == "exited", timeout=15)
    time.sleep(0.8)
    assert _rc(host, "f") == 2 and status(host, "f") == "exited"
    assert host.fab("inspect", "-f", "{{.State.ExitCode}}", "f").out == "3\n"
    # success is not restarted
    host.fab("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
    time.sleep(0.8)
    assert _rc(host, "ok") == 0 and status(host, "ok") == "exited"


def test_always_and_unless_stopped(host):
    host.fab("run", "-d", "--name", "a", "--restart", "always", "busybox", "sh", "-c",
             "sleep 0.2")
    wait_for(lambda: _rc(host, "a") >= 2, timeout=15)
    host.fab("stop", "-t", "1", "a")
    n = _rc(host, "a")
    time.sleep(0.8)
    assert status(host, "a") == "exited" and _rc(host, "a") == n
    host.fab("run", "-d", "--name", "u", "--restart", "unless-stopped", "busybox", "sleep", "300")
    host.fab("kill", "u")  # a kill by the user counts as a manual stop
    time.sleep(0.5)
    assert status(host, "u") == "exited"
    r = host.fab("run", "-d", "--restart", "bogus", "busybox", "true", check=False)
    assert r.code == 125 and r.err.count("\n") == 1


def test_bad_input_leaves_nothing(host):
    cases = [
        (["run", "--pull", "never", "nosuchimage"], "No such image"),
        (["run", "-m", "lots", "busybox", "true"], "--memory"),
        (["run", "--cpus", "-1", "busybox", "true"], "--cpus"),
        (["run", "--cpus", "abc", "busybox", "true"], "--cpus"),
        (["run", "-v", "/definitely/missing:/x", "busybox", "true"], ""),
        (["run", "--volumes-from", "nosuch", "busybox", "true"], "nosuch"),
        (["run", "--mount", "type=bogus,target=/x", "busybox", "true"], ""),
        (["exec", "nosuch", "true"], "No such container"),
        (["start", "nosuch"], "No such container"),
        (["run", "--name", "bad/name", "busybox", "true"], "Invalid container name"),
    ]
    for args, msg in cases:
        r = host.fab(*args, check=False)
        assert r.code != 0, (args, r)
        assert r.err.count("\n") == 1 and msg in r.err, (args, r)
    assert_clean(host)
    assert host.fab("volume", "ls", "-q").out == ""
    # name in use: the second create leaves no row
    host.fab("create", "--name", "n", "busybox")
    r = host.fab("run", "--name", "n", "busybox", "true", check=False)
    assert r.code == 125 and "already in use" in r.err
    assert len(host.fab("ps", "-aq").out.split()) == 1
    host.fab("rm", "n")
    # a command that cannot start leaves no mount, runc state or conmon
    r = host.fab("run", "--name", "nc", "busybox", "nosuchcmd", check=False)
    assert r.code == 127
    # Docker keeps it as "created"; fabric may drop the row: either way nothing runs
    if host.fab("ps", "-aq").out:
        assert status(host, "nc") in ("created", "exited")
        host.fab("rm", "nc")
    assert_clean(host)
