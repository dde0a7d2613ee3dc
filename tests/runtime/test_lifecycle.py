"""create/start/stop/kill/restart/pause/rm, ps, inspect, logs, exec, attach, rename."""

import json
import os
import pty
import select
import subprocess
import sys
import time

from helpers import assert_clean, status, wait_for

FAB = os.path.join(os.path.dirname(sys.executable), "fabric")


def test_create_start_attach(host):
    cid = host.fab("create", "--name", "c", "busybox", "sh", "-c", "echo ran; exit 4").out.strip()
    assert status(host, "c") == "created"
    assert host.fab("ps", "-q").out == ""
    assert host.fab("ps", "-aq").out.strip() == cid[:12]
    r = host.fab("start", "-a", "c", check=False)
    assert (r.code, r.out) == (4, "ran\n")
    assert host.fab("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "c").out == \
        "exited 4\n"
    assert host.fab("start", "c").out == "c\n"
    assert host.fab("wait", "c").out == "4\n"
    assert host.fab("logs", "c").out == "ran\nran\n"


def test_stop_kill_restart_pause(host):
    host.fab("run", "-d", "--name", "t", "busybox", "sh", "-c",
             "trap 'echo got TERM; exit 9' TERM; trap 'exit 10' USR1; echo ready; "
             "while true; do sleep 0.1; done")
    # a signal that comes before the traps are set kills the shell by its default action
    wait_for(lambda: host.fab("logs", "t").out.count("ready") == 1)
    t0 = time.monotonic()
    host.fab("stop", "-t", "5", "t")
    assert time.monotonic() - t0 < 4
    assert host.fab("inspect", "-f", "{{.State.ExitCode}}", "t").out == "9\n"
    assert "got TERM" in host.fab("logs", "t").out
    host.fab("start", "t")
    wait_for(lambda: host.fab("logs", "t").out.count("ready") == 2)
    host.fab("kill", "-s", "USR1", "t")
    assert host.fab("wait", "t").out == "10\n"
    host.fab("start", "t")
    pid1 = host.inspect("t")["State"]["Pid"]
    host.fab("restart", "-t", "1", "t")
    assert status(host, "t") == "running" and host.inspect("t")["State"]["Pid"] != pid1
    host.fab("pause", "t")
    assert status(host, "t") == "paused"
    assert "Paused" in host.fab("ps").out
    r = host.fab("exec", "t", "true", check=False)
    assert r.code != 0
    host.fab("unpause", "t")
    assert status(host, "t") == "running"
    host.fab("kill", "t")
    assert host.fab("wait", "t").out == "137\n"
    r = host.fab("kill", "t", check=False)
    assert r.code != 0 and "is not running" in r.err
    # stop of a stopped container succeeds quietly
    assert host.fab("stop", "t").code == 0


def test_rm_rules(host):
    host.fab("run", "-d", "--name", "r", "busybox", "sleep", "300")
    r = host.fab("rm", "r", check=False)
    assert r.code == 1 and r.err.count("\n") == 1 and "Stop the container" in r.err
    assert status(host, "r") == "running"
    host.fab("rm", "-f", "r")
    r = host.fab("rm", "nosuch", check=False)
    assert r.code == 1 and "No such container: nosuch" in r.err
    assert_clean(host)


def test_ps_filters_and_format(host):
    host.fab("run", "-d", "--name", "one", "busybox", "sleep", "300")
    host.fab("create", "--name", "two", "busybox", "true")
    host.fab("run", "--name", "three", "busybox", "true")
    assert [ln.split()[-1] for ln in host.fab("ps").out.splitlines()[1:]] == ["one"]
    assert [ln.split()[-1] for ln in host.fab("ps", "-a").out.splitlines()[1:]] == \
        ["three", "two", "one"]
    assert host.fab("ps", "-l", "--format", "{{.Names}}").out == "three\n"
    assert host.fab("ps", "-n", "2", "--format", "{{.Names}}").out == "three\ntwo\n"
    assert len(host.fab("ps", "-aq").out.split()) == 3
    assert len(host.fab("ps", "-aq", "--no-trunc").out.split()[0]) == 64
    def f(*a):
        return host.fab("ps", "-a", "--format", "{{.Names}}", *a).out.split()
    assert f("-f", "name=tw") == ["two"]
    assert f("-f", "status=exited") == ["three"]
    assert f("-f", "status=created") == ["two"]
    assert f("-f", "status=running") == ["one"]
    assert sorted(f("-f", "ancestor=busybox")) == ["one", "three", "two"]
    out = host.fab("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}").out.splitlines()
    assert out[0].split() == ["NAMES", "STATUS"]
    assert out[1].startswith("three") and "Exited (0)" in out[1]
    assert "Up " in host.fab("ps", "--format", "{{.Status}}").out
    assert "--no-trunc" and "sleep 300" in host.fab("ps", "--no-trunc").out


def test_inspect_templates(host, tmp_path):
    host.fab("run", "-d", "--name", "i", "-h", "hh", "-v", f"{tmp_path}:/data:ro",
             "busybox", "sleep", "300")
    assert host.fab("inspect", "-f", "{{.State.Status}}", "i").out == "running\n"
    assert host.fab("inspect", "-f", "{{.Config.Hostname}}", "i").out == "hh\n"
    mounts = json.loads(host.fab("inspect", "-f", "{{json .Mounts}}", "i").out)
    assert mounts[0]["Type"] == "bind" and mounts[0]["Source"] == str(tmp_path)
    assert mounts[0]["Destination"] == "/data" and mounts[0]["RW"] is False
    r = host.fab("inspect", "nosuch", check=False)
    assert r.code == 1 and "No such object: nosuch" in r.err


def test_logs_options(host):
    host.fab("run", "--name", "l", "busybox", "sh", "-c",
             "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2")
    assert host.fab("logs", "l").out == "line1\nline2\nline3\nline4\nline5\n"
    assert host.fab("logs", "l").err == "err\n"
    assert host.fab("logs", "--tail", "2", "l").out == "line5\n"  # the last two are line5+err
    ts = host.fab("logs", "-t", "l").out.splitlines()
    assert ts[0].endswith(" line1") and ts[0][:4].isdigit() and "T" in ts[0].split()[0]
    assert host.fab("logs", "--since", "1h", "l").out.count("line") == 5
    future = str(time.time() + 3600)
    assert host.fab("logs", "--since", future, "l").out == ""
    host.fab("run", "-d", "--name", "f", "busybox", "sh", "-c",
             "echo a; sleep 0.5; echo b; sleep 0.3")
    p = host.popen("logs", "-f", "f", stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=20)
    assert out == "a\nb\n" and p.returncode == 0


def test_exec(host):
    host.fab("run", "-d", "--name", "e", "busybox", "sleep", "300")
    assert host.fab("exec", "e", "sh", "-c", "exit 5", check=False).code == 5
    assert host.fab("exec", "-e", "X=1", "-w", "/tmp", "-u", "65534", "e", "sh", "-c",
                    "echo $X; pwd; id -u").out == "1\n/tmp\n65534\n"
    assert host.fab("exec", "-i", "e", "cat", input="piped\n").out == "piped\n"
    assert host.fab("exec", "-d", "e", "sh", "-c", "echo bg > /bg").out == ""
    wait_for(lambda: host.fab("exec", "e", "cat", "/bg", check=False).out == "bg\n")
    assert host.fab("exec", "e", "nosuch", check=False).code == 127
    assert host.fab("exec", "e", "/etc", check=False).code == 126
    host.fab("stop", "-t", "0", "e")
    r = host.fab("exec", "e", "true", check=False)
    assert r.code != 0 and r.err.count("\n") == 1 and "is not running" in r.err, r


def _pty_run(host, args, steps, timeout=20):
    """Run the CLI on a pty; steps: (bytes to send, text expected after it)."""
    pid, fd = pty.fork()
    if pid == 0:
        env = host.env()
        os.execvpe("nsenter", host.prefix + [FAB] + args, env)
    buf = b""
    try:
        time.sleep(1.0)  # let the CLI attach and go raw before typing
        for send, expect in steps:
            if send:
                os.write(fd, send)
            deadline = time.monotonic() + timeout
            while expect.encode() not in buf:
                assert time.monotonic() < deadline, buf
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        buf += os.read(fd, 4096)
                    except OSError:
                        break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(code), buf
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    buf += os.read(fd, 4096)
                except OSError:
                    pass
        raise AssertionError(f"CLI did not exit: {buf!r}")
    finally:
        os.close(fd)


def test_attach_detach_keys(host):
    host.fab("run", "-d", "-i", "-t", "--name", "a", "busybox", "sh")
    code, out = _pty_run(host, ["attach", "a"],
                         [(b"echo hel''lo\r", "hello"), (b"\x10\x11", "")])
    assert code == 0, out
    assert status(host, "a") == "running"
    # run -it itself, detached with ctrl-p ctrl-q
    code, out = _pty_run(host, ["run", "-it", "--name", "b", "busybox", "sh"],
                         [(b"echo o''k\r", "ok"), (b"\x10\x11", "")])
    assert code == 0 and status(host, "b") == "running"
    code, out = _pty_run(host, ["attach", "b"], [(b"exit 3\r", "")])
    assert code == 3
    assert host.fab("wait", "b").out == "3\n"


def test_rename_and_unique_names(host):
    host.fab("run", "-d", "--name", "old", "busybox", "sleep", "300")
    host.fab("rename", "old", "new")
    assert host.fab("ps", "--format", "{{.Names}}").out == "new\n"
    host.fab("create", "--name", "other", "busybox")
    r = host.fab("rename", "other", "new", check=False)
    assert r.code != 0 and "already in use" in r.err
    r = host.fab("run", "--name", "new", "busybox", "true", check=False)
    assert r.code == 125 and "already in use" in r.err and r.err.count("\n") == 1
    assert len(host.fab("ps", "-aq").out.split()) == 2
