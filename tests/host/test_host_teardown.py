"""Removing a host finds everything by pidfiles and namespace identity: also after a
`kill -9` of its daemon with containers running, and twice in a row."""

import os
import subprocess
import sys

from hostcli import fabric, remains

from fabric.host import bare, hosts, registry
from fabric.net import netns
from fabric.paths import HostRoot, hosts_dir


def test_rm_after_kill_9_of_the_daemon_leaves_nothing(new_name):
    name = new_name()
    fabric("host", "add", name)
    h = hosts.get(name)

    def fab(*args: str) -> str:
        return fabric("-H", name, *args).stdout

    fab("network", "create", "n1")
    fab("run", "-d", "--name", "plain", "busybox", "sh", "-c", "sleep 300 & exec sleep 301")
    fab("run", "-d", "--name", "vol", "-v", "data:/data", "busybox", "sleep", "300")
    fab("run", "-d", "--name", "pub", "--network", "n1", "-p", "8080:80", "busybox",
        "httpd", "-f", "-p", "80")
    # exits and restarts all the time: its exit hook may fire during the teardown
    fab("run", "-d", "--name", "flaps", "--restart", "always", "busybox", "sleep", "0.2")
    cids = fab("ps", "-aq", "--no-trunc").split()
    assert len(cids) == 4
    h.stop_daemon(9)
    assert h.daemon_pid() is None
    before = {r.split()[0] for r in remains(h.root.path, h.netns, cids)}
    assert before == {"process", "mount", "namespace", "root"}  # what rm must remove
    assert fabric("host", "rm", name).stdout == f"{name}\n"
    assert remains(h.root.path, h.netns, cids) == []
    h.remove()  # nothing left is success


def test_rm_of_a_host_made_no_further_than_its_directory(new_name):
    name = new_name()
    os.makedirs(os.path.join(hosts_dir(), name))
    assert name not in [h.name for h in hosts.list_all()]
    hosts.remove(name)
    assert not os.path.exists(os.path.join(hosts_dir(), name))


def test_exit_hook_wakes_no_daemon_for_a_root_being_removed(tmp_path):
    root = HostRoot(str(tmp_path))
    os.makedirs(root.container_dir("c1"))
    open(root.removing, "w").close()
    p = subprocess.run([sys.executable, "-m", "fabric.client.exithook", root.path, "c1"],
                       capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stderr) == (0, "")
    assert sorted(os.listdir(root.path)) == ["containers", "removing"]


def test_a_daemon_is_not_started_for_a_root_being_removed(new_name):
    name = new_name()
    h = hosts.add(name, start=False)
    open(h.root.removing, "w").close()
    p = fabric("-H", name, "ps", check=False)
    assert p.returncode == 125 and "is being removed" in p.stderr
    assert not os.path.exists(h.root.socket)


def test_bare_namespaces_go_with_whatever_runs_in_them(new_name):
    spaces = bare.Namespaces(f"fab{new_name('b')}-")
    with spaces:
        a = spaces.make("a")
        sleeper = subprocess.Popen(["nsenter", f"--net={netns.path(a)}", "sleep", "300"])
        ident = netns.identity(a)
        assert ident is not None
        out = subprocess.run(["nsenter", f"--net={netns.path(a)}", "ip", "-o", "link"],
                             capture_output=True, text=True, check=True).stdout
        assert "lo: <LOOPBACK,UP,LOWER_UP>" in out
    assert sleeper.wait(timeout=5) == -9
    assert not netns.exists(a) and spaces.made == []
    bare.remove(a)  # already gone is success


def test_names_are_checked():
    for bad in ("", "A", "-x", "a.b", "a/b", "x" * 40):
        try:
            registry.full_name(bad)
        except Exception as e:  # noqa: BLE001
            assert "invalid host name" in str(e)
        else:
            raise AssertionError(f"{bad!r} accepted")
    assert registry.full_name("h1", "lab-1") == "lab-1.h1"
