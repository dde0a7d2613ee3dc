"""`fabric host add|ls|rm|exec`: hosts made, listed and removed through the CLI, without
ever starting the machine's own daemon."""

import json
import os
import subprocess
import tempfile

from hostcli import error_line, fabric, remains

from fabric.net import netns
from fabric.paths import hosts_dir


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()}


def test_add_ls_rm(tmp_path, new_name):
    name = new_name()
    local_root = str(tmp_path / "local")
    os.mkdir(local_root)
    links = _links()
    # commands for hosts, with FABRIC_ROOT pointing at an empty root: never its daemon
    env = {"FABRIC_ROOT": local_root}
    assert fabric("host", "add", name, "--setting", "mtu=1400", "--setting", "icc=false",
                  **env).stdout == f"{name}\n"
    root = os.path.join(hosts_dir(), name)
    with open(os.path.join(root, "host.json")) as f:
        rec = json.load(f)
    assert rec["name"] == name and rec["lab"] is None and rec["netns"] == f"fabh-{name}"
    assert isinstance(rec["created"], float)
    with open(os.path.join(root, "settings.json")) as f:
        assert json.load(f) == {"mtu": "1400", "icc": "false"}
    assert netns.exists(f"fabh-{name}")

    table = fabric("host", "ls", **env).stdout.splitlines()
    assert table[0].split() == ["NAME", "LAB", "NAMESPACE", "DAEMON", "ROOT"]
    assert [f"{name}", f"fabh-{name}", "running", root] in [ln.split() for ln in table[1:]]
    assert name in fabric("host", "ls", "-q", **env).stdout.split()
    assert f"{name} stopped" not in fabric("host", "ls", "--format", "{{.Name}} {{.Daemon}}",
                                           **env).stdout
    # its daemon took the settings, inside its namespace: the default bridge is there
    link = fabric("host", "exec", name, "ip", "-o", "link", "show", "fabric0", **env).stdout
    assert " mtu 1400 " in link

    assert fabric("host", "rm", name, **env).stdout == f"{name}\n"
    assert remains(root, f"fabh-{name}", []) == []
    assert name not in fabric("host", "ls", "-q", **env).stdout.split()
    assert os.listdir(local_root) == []  # no socket, no lock: the local daemon never ran
    assert _links() <= links  # nothing made in the machine's own namespace


def test_bad_input_makes_nothing(new_name):
    name = new_name()
    for args, says in ((["add", "Bad.Name"], "invalid host name"),
                       (["add", "local"], "the machine itself"),
                       (["add", name, "--setting", "mtu=big"], "mtu"),
                       (["add", name, "--setting", "icc2=false"],
                        "unknown setting 'icc2' (did you mean 'icc'?)"),
                       (["add", name, "--setting", "novalue"], "KEY=VALUE")):
        assert says in error_line(fabric("host", *args, check=False))
    assert not os.path.exists(os.path.join(hosts_dir(), name))
    assert not netns.exists(f"fabh-{name}")
    fabric("host", "add", "--no-start", name)
    try:
        assert "already exists" in error_line(fabric("host", "add", name, check=False))
        assert fabric("host", "ls", "--format", "{{.Name}} {{.Daemon}}").stdout.count(
            f"{name} stopped") == 1
    finally:
        fabric("host", "rm", name)
    p = fabric("host", "rm", name, "nosuch-" + name, check=False)
    assert p.returncode == 1 and p.stdout == ""
    assert [ln.split(";")[0] for ln in p.stderr.splitlines()] == [
        f"Error: no host {name!r}", f"Error: no host 'nosuch-{name}'"]


def test_host_commands_never_start_the_local_daemon(new_name):
    with tempfile.TemporaryDirectory() as local_root:
        name = new_name()
        env = {"FABRIC_ROOT": local_root}
        fabric("host", "add", "--no-start", name, **env)
        fabric("host", "ls", **env)
        fabric("host", "exec", name, "true", **env)
        fabric("host", "rm", name, **env)
        assert os.listdir(local_root) == []


def test_settings_of_every_part_are_taken_and_a_typo_in_the_file_stops_the_daemon(new_name):
    """settings.json holds the network's, the API's and the registries' keys; the daemon
    refuses a key nobody reads, as dockerd refuses one in daemon.json."""
    name = new_name()
    fabric("host", "add", "--no-start", name, "--setting", "tls=false",
           "--setting", "icc=false")
    try:
        root = os.path.join(hosts_dir(), name)
        with open(os.path.join(root, "settings.json"), "w") as f:
            f.write('{"icc": false, "insecure-registries": ["10.0.0.0/8"], "ipmasq": true}')
        line = error_line(fabric("-H", name, "ps", check=False))
        assert "the fabric daemon did not start" in line, line
        assert "unknown setting 'ipmasq' (did you mean 'ip-masq'?)" in line, line
        with open(os.path.join(root, "settings.json"), "w") as f:
            f.write('{"icc": false, "insecure-registries": ["10.0.0.0/8"], "ip-masq": true}')
        assert fabric("-H", name, "ps").returncode == 0
    finally:
        fabric("host", "rm", name)
