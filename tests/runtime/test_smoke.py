"""The core path a user takes first: run, ps, logs, stop, rm."""

import re


def test_run_prints_output_and_returns_exit_code(host):
    r = host.fab("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
                 check=False)
    assert r.code == 3, r
    assert r.out == "out\n"
    assert r.err == "err\n"
    assert host.fab("ps", "-aq").out == ""


def test_detached_container_lifecycle(host):
    cid = host.fab("run", "-d", "--name", "web", "busybox", "sh", "-c",
                   "echo started; exec sleep 300").out.strip()
    assert len(cid) == 64
    ps = host.fab("ps").out.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"]
    assert cid[:12] in ps[1] and ps[1].endswith("web")
    assert "Up " in ps[1]
    assert host.fab("logs", "web").out == "started\n"
    assert host.fab("inspect", "-f", "{{.State.Status}}", "web").out == "running\n"
    assert host.fab("stop", "-t", "1", "web").out == "web\n"
    assert host.fab("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web").out \
        == "exited 137\n"
    assert host.fab("rm", "web").out == "web\n"
    assert host.fab("ps", "-aq").out == ""


def test_version_and_info_report_both_sides(host):
    from fabric import __version__
    assert host.fab("--version").out == f"fabric version {__version__}\n"
    out = host.fab("version").out
    client, server = out.split("\nServer:\n")
    assert client.startswith("Client:\n") and f"Version:        {__version__}" in client
    assert "runc:" in server and "conmon:" in server and "KernelVersion:" in server
    host.fab("run", "-d", "--name", "up", "busybox", "sleep", "300")
    info = host.fab("info").out
    assert f"Host:       unix://{host.root}/fabric.sock" in info
    assert " ContainersRunning: 1\n" in info and f" DockerRootDir: {host.root}\n" in info
    daemon_id = re.search(r"\n ID: (\S+)\n", info).group(1)
    host.kill_daemon()
    assert f"\n ID: {daemon_id}\n" in host.fab("info").out   # the same host after a restart
