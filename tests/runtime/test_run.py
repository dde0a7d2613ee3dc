"""`run` and its flags, checked from inside the container."""

import os
import re
import subprocess

from helpers import assert_clean, status, wait_for


def test_run_detached_and_names(host):
    cid = host.fab("run", "-d", "busybox", "sleep", "300").out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    name = host.fab("inspect", "-f", "{{.Name}}", cid[:12]).out.strip()
    assert re.fullmatch(r"/[a-z]+_[a-z]+\d*", name), name
    assert host.fab("ps", "-q").out.strip() == cid[:12]


def test_run_stdin_env_hostname_workdir_user(host, tmp_path):
    assert host.fab("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z",
                    input="hello\n").out == "HELLO\n"
    envf = tmp_path / "env"
    envf.write_text("# comment\nFROMFILE=1\nOVER=file\n")
    out = host.fab("run", "--rm", "--env-file", str(envf), "-e", "OVER=flag", "-e", "A=b c",
                   "-h", "box", "-w", "/tmp/work", "-u", "1000:1000", "busybox", "sh", "-c",
                   'echo "$FROMFILE $OVER $A"; hostname; pwd; id -u; id -g').out
    assert out.splitlines() == ["1 flag b c", "box", "/tmp/work", "1000", "1000"]
    assert host.fab("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b").out == "a b\n"
    assert host.fab("ps", "-aq").out == ""


def test_run_tty(host):
    # `script` gives the CLI a terminal, as a user's shell would.
    fab = os.path.join(os.path.dirname(__import__("sys").executable), "fabric")
    cmd = f"{fab} run --rm -t busybox sh -c 'tty; test -t 0 && echo isatty'"
    p = subprocess.run([*host.prefix, "script", "-qec", cmd, "/dev/null"], check=False,
                       capture_output=True, text=True, timeout=60, env=host.env(),
                       stdin=subprocess.DEVNULL)
    assert "/dev/pts/0" in p.stdout and "isatty" in p.stdout, p


def test_exit_codes(host):
    assert host.fab("run", "--rm", "busybox", "sh", "-c", "exit 42", check=False).code == 42
    r = host.fab("run", "--rm", "busybox", "nosuchcmd", check=False)
    assert r.code == 127 and r.err.count("\n") == 1, r
    r = host.fab("run", "--rm", "busybox", "/etc", check=False)
    assert r.code == 126, r
    r = host.fab("run", "--rm", "--pull", "never", "nosuchimage", check=False)
    assert r.code == 125 and "No such image" in r.err, r
    r = host.fab("run", "--bogus-flag", "busybox", check=False)
    assert r.code == 125
    assert_clean(host)


def test_resource_limits_inside(host):
    out = host.fab("run", "--rm", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20",
                   "busybox", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                   "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
                   "/sys/fs/cgroup/pids/pids.max").out.split()
    assert out == [str(64 * 1024 * 1024), "50000", "100000", "20"]
    hc = host.fab("create", "--name", "lim", "-m", "1g", "--cpus", "1.5", "busybox").out
    assert hc
    assert host.fab("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
                    "lim").out.split() == [str(1 << 30), "1500000000"]
    # the pids limit holds
    r = host.fab("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
                 "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait", check=False)
    assert "can't fork" in r.err or "Resource temporarily unavailable" in r.err or r.code != 0


def test_network_none_and_host(host):
    out = host.fab("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev").out
    ifaces = [ln.split(":")[0].strip() for ln in out.splitlines()[2:]]
    assert ifaces == ["lo"]
    host.sh("ip link add fabtdummy0 type veth peer name fabtdummy1")
    out = host.fab("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev").out
    assert "fabtdummy0" in out


def test_rm_flag_and_wait(host):
    cid = host.fab("run", "-d", "--rm", "--name", "gone", "busybox", "sh", "-c",
                   "sleep 0.3; exit 3").out.strip()
    assert host.fab("wait", "gone", check=False).out.strip() in ("3", "")
    wait_for(lambda: host.fab("ps", "-aq").out == "")
    # What `run --rm` asks when its output ends: a container already removed by then
    # still reports its own exit code.
    late = host.api().request("POST", f"/containers/{cid}/wait", {"condition": "removed"})
    assert (late.status, late.json()) == (200, {"StatusCode": 3, "Error": None})
    assert_clean(host)
    host.fab("run", "-d", "--name", "w", "busybox", "sh", "-c", "sleep 0.3; exit 7")
    assert host.fab("wait", "w").out == "7\n"
    assert status(host, "w") == "exited"


def _veths(host) -> list[str]:
    return host.sh("ip -o link show type veth").out.splitlines()


def test_network_container_mode_and_no_veth_left(host):
    # an exited container's pair goes with its namespace
    host.fab("run", "--rm", "busybox", "true")
    wait_for(lambda: _veths(host) == [], timeout=5)
    host.fab("run", "-d", "--name", "a", "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "b", "--network", "container:a", "busybox", "sleep", "300")
    ip = host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "a").out.strip()
    assert f"inet {ip}/" in host.fab("exec", "b", "ip", "-4", "addr", "show", "eth0").out
    assert len(_veths(host)) == 1
    # b keeps the namespace alive: a's stop must still take a's interface away (as in
    # Docker), not leave it holding an address the pool hands out again
    host.fab("kill", "a")
    host.fab("wait", "a")
    assert _veths(host) == []
    assert host.fab("exec", "b", "cat", "/proc/net/dev").out.count(":") == 1   # lo only
    host.fab("rm", "-f", "a", "b")
    assert_clean(host)
