"""A lab whose hosts are on other machines, reached over TCP with mutual TLS (issue 9,
item 2).

The "machines" are the hosts of a first lab (remote_labs/machines.yaml): namespaces on
one LAN whose daemons serve the API with mutual TLS on their LAN addresses. Its third
host, `ctl`, plays the machine the second lab (remote_labs/remote.yaml, hosts
`remote:`) is run from, with a labs and a hosts directory of its own, as another
machine would have: every connection to the machines stays inside the test's
namespaces (this machine's own namespace has no route to their LAN)."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

from fabric import certgen
from fabric.host import hosts
from lab.labcli import FABRIC, lab, leftovers, unique

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "remote_labs")
M1, M2 = "192.168.77.11", "192.168.77.12"


@dataclass
class Machines:
    run: str                # the machines lab's name
    dir: str                # its files: the lab files, certs/ (`fabric tls init`'s)
    labs: str               # the controller's labs directory
    hosts: str              # the controller's hosts directory

    def ctl(self, *args: str, input: str = "") -> subprocess.CompletedProcess:
        """fabric on the controller: inside its namespace, with its own directories."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env.update(FABRIC_LABS_DIR=self.labs, FABRIC_HOSTS_DIR=self.hosts)
        return subprocess.run(["nsenter", f"--net=/run/netns/fabh-{self.run}.ctl", *FABRIC,
                               *args], capture_output=True, text=True, env=env, cwd=self.dir,
                              timeout=120, input=input)

    def on(self, machine: str, *args: str) -> str:
        """fabric on a machine itself, through its unix socket (from this machine)."""
        env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
        return subprocess.run([*FABRIC, "-H", f"{self.run}.{machine}", *args], env=env,
                              capture_output=True, text=True, check=True, timeout=30).stdout

    def controller_left(self, name: str) -> list[str]:
        """What a lab run from the controller left there: state, records, namespaces."""
        found = [f"labs dir: {n}" for n in os.listdir(self.labs)]
        found += [f"hosts dir: {n}" for n in os.listdir(self.hosts)]
        found += [f"netns {n}" for n in os.listdir("/run/netns")
                  if n.startswith((f"fabh-{name}.", f"fabs-{name}."))]
        return found


@pytest.fixture(scope="module")
def machines(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("machines"))
    for f in ("machines.yaml", "remote.yaml"):
        shutil.copy(os.path.join(HERE, f), d)
    certgen.init(os.path.join(d, "certs"), [M1, M2])
    run = unique("machines")
    r = lab("up", "--name", run, os.path.join(d, "machines.yaml"))
    assert r.code == 0, r
    m = Machines(run, d, tempfile.mkdtemp(prefix="fcl-", dir="/tmp"),
                 tempfile.mkdtemp(prefix="fch-", dir="/tmp"))
    try:
        yield m
    finally:
        assert lab("down", run).code == 0
        assert leftovers(run) == []
        os.rmdir(m.labs)
        os.rmdir(m.hosts)


def _daemons(m: Machines) -> list[int | None]:
    return [hosts.get(f"{m.run}.{x}").daemon_pid() for x in ("m1", "m2")]


def test_a_lab_on_remote_machines_passes_and_down_leaves_them_running_and_clean(machines):
    m = machines
    before = _daemons(m)
    name = unique("remote")
    try:
        up = m.ctl("lab", "up", "--name", name, "remote.yaml")
        assert up.returncode == 0, up
        assert f"lab {name} is up: 3 host(s), 5 container(s)" in up.stdout
        assert "h1: up, on tcp://192.168.77.11:2376" in up.stderr
        # a remote machine shares no file system with the controller: its images are sent
        assert "h1: has busybox (sent)" in up.stderr, up.stderr
        again = m.ctl("lab", "up", "--name", name, "remote.yaml")
        assert again.returncode == 0 and "is up already" in again.stdout, again
        t = m.ctl("lab", "test", name)
        assert t.returncode == 0 and "9 checks, 9 passed, 0 failed" in t.stdout, t
        # the checks can fail: an expectation turned round fails, and says which
        with open(os.path.join(m.dir, "remote.yaml")) as f:
            text = f.read()
        with open(os.path.join(m.dir, "wrong.yaml"), "w") as f:
            f.write(text.replace("port: 80, expect: refused}", "port: 80, within: 1}"))
        w = m.ctl("lab", "test", "--name", name, "wrong.yaml")
        assert w.returncode == 1, w
        assert "FAILED client -> h2 tcp/80: expected ok, got refused" in w.stdout

        # the machines' daemons hold the lab's containers; -H LAB.HOST reaches them
        assert m.on("m2", "ps", "--format", "{{.Names}}").split() == ["other", "web"]
        assert len(m.on("m2", "firewall", "ls", "-q").split()) == 1
        ps = m.ctl("-H", f"{name}.h2", "ps", "--format", "{{.Names}} {{.Labels}}")
        assert sorted(ps.stdout.splitlines()) == [
            f"other fabric.lab={name},fabric.lab.container=other",
            f"web fabric.lab={name},fabric.lab.container=web"], ps
        ls = m.ctl("host", "ls").stdout.splitlines()
        assert [f"{name}.h1", name, "-", "remote", f"tcp://{M1}:2376"] in \
            [ln.split() for ln in ls], ls
        st = m.ctl("lab", "status", name)
        assert st.returncode == 0, st
        assert [ln.split() for ln in st.stdout.splitlines() if ln.startswith("h2 ")] == [
            ["h2", "running", f"tcp://{M2}:2376", "eth0", f"{M2}/24"]]
        ex = m.ctl("lab", "exec", name, "web", "--", "cat", "/www/index.html")
        assert ex.stdout == "hello from web on h2\n", ex
        # stdin's end reaches the container over TLS too (a TCP half-close under it)
        ex = m.ctl("lab", "exec", name, "web", "--", "cat", input="typed\n")
        assert ex.stdout == "typed\n", ex

        # what only this machine can make is refused, in one line
        imp = m.ctl("lab", "impair", name, "h1:eth0", "loss=5%")
        assert imp.returncode == 125 and imp.stderr == (
            f"Error: host h1 is on another machine (tcp://{M1}:2376): impairment is made in "
            "this machine's namespaces\n"), imp
        sh = m.ctl("lab", "exec", name, "h1", "--", "true")
        assert sh.returncode == 125 and "it has no namespace here" in sh.stderr, sh
    finally:
        down = m.ctl("lab", "down", name)
    assert down.returncode == 0 and f"lab {name} removed" in down.stdout, down
    assert "h1: removed its containers and networks on" in down.stderr
    # the machines' daemons run on, holding nothing of the lab
    assert _daemons(m) == before
    for x in ("m1", "m2"):
        assert m.on(x, "ps", "-aq") == ""
        assert m.on(x, "network", "ls", "-q", "--filter", "label=fabric.lab") == ""
        assert m.on(x, "firewall", "ls", "-q") == ""
    assert m.controller_left(name) == []


def _bad(m: Machines, edit: tuple[str, str], name: str) -> str:
    with open(os.path.join(m.dir, "remote.yaml")) as f:
        text = f.read()
    assert edit[0] in text
    with open(os.path.join(m.dir, "bad.yaml"), "w") as f:
        f.write(text.replace(edit[0], edit[1], 1))
    r = m.ctl("lab", "up", "--name", name, "bad.yaml")
    assert r.returncode == 125 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r
    return r.stderr.strip()


URL = "url: tcp://192.168.77.11:2376, cert-path: certs}"
BAD = [
    ((URL, URL.replace("2376", "2377")),
     "bad.yaml:11: hosts.h1.remote.url: cannot reach tcp://192.168.77.11:2377: "
     "Connection refused"),
    ((URL, URL.replace("192.168.77.11", "10.255.0.1")),
     "bad.yaml:11: hosts.h1.remote.url: cannot reach tcp://10.255.0.1:2376: "
     "Network is unreachable"),
    ((URL, URL.replace("certs", "other")),
     "bad.yaml:11: hosts.h1.remote.cert-path: TLS connection to tcp://192.168.77.11:2376 "
     "failed: the daemon's certificate is not trusted"),
    ((URL, URL.replace("certs", "stranger")),
     "bad.yaml:11: hosts.h1.remote.cert-path: TLS connection to tcp://192.168.77.11:2376 "
     "failed: the daemon does not trust the client certificate's CA"),
    ((URL, URL.replace("certs", "halfway")),
     "bad.yaml:11: hosts.h1.remote.cert-path: {dir}/halfway has no key.pem (a remote host "
     "needs ca.pem, cert.pem, key.pem)"),
    (("settings: {icc: false}", "settings: {icc: true}"),
     "bad.yaml:16: hosts.h2.settings.icc: the daemon at tcp://192.168.77.12:2376 has icc "
     "false, the file says true: set it on that machine and restart its daemon"),
    (("address: 192.168.77.11}]", "address: 192.168.77.13}]"),
     "bad.yaml:12: hosts.h1.nics[0].address: eth0 on tcp://192.168.77.11:2376 has no "
     "address 192.168.77.13/24 (it has 192.168.77.11/24)"),
    (("address: 192.168.77.11}]", "address: 192.168.77.11}]\n"
      "    routes: [{to: 10.1.0.0/16, via: 192.168.77.12}]"),
     "bad.yaml:13: hosts.h1.routes[0]: the machine at tcp://192.168.77.11:2376 has no "
     "route to 10.1.0.0/16 via 192.168.77.12: add it there"),
]


def test_bad_remote_hosts_are_one_line_and_nothing_is_made_anywhere(machines):
    m = machines
    d = m.dir
    certgen.init(os.path.join(d, "other"), [M1])
    # the right CA, a client pair from another CA; and a folder missing its key
    os.makedirs(os.path.join(d, "stranger"))
    shutil.copy(os.path.join(d, "certs", "ca.pem"), os.path.join(d, "stranger"))
    for f in ("cert.pem", "key.pem"):
        shutil.copy(os.path.join(d, "other", f), os.path.join(d, "stranger"))
    os.makedirs(os.path.join(d, "halfway"))
    for f in ("ca.pem", "cert.pem"):
        shutil.copy(os.path.join(d, "certs", f), os.path.join(d, "halfway"))
    name = unique("bad")
    for edit, says in BAD:
        assert _bad(m, edit, name).startswith(says.format(dir=d))
        assert m.controller_left(name) == []
    for x in ("m1", "m2"):
        assert m.on(x, "ps", "-aq") == ""


def test_the_routes_a_remote_lab_uses_on_a_plain_host(host):
    """GET /fabric/host and POST /fabric/probe, as a lab on another machine asks them."""
    host.fab("run", "-d", "--name", "c", "busybox", "sleep", "300")
    api = host.api()
    doc = api.get("/fabric/host")
    assert doc["Name"] == host.tag and doc["Settings"]["icc"] is True
    lo = next(i for i in doc["Interfaces"] if i["Name"] == "lo")
    assert lo["Up"] and "127.0.0.1/8" in lo["Addresses"]
    assert any(r["Dev"] == "fabric0" for r in doc["Routes"])
    key = host.inspect("c")["NetworkSettings"]["SandboxKey"]
    probe = {"proto": "icmp", "dst": "10.88.0.1", "via": [["", "fabric0"]]}
    out = api.post("/fabric/probe", {"netns": key, "probe": probe})
    assert out["result"] == "ok" and out["seen_via"] == [True], out
    # only this host's own namespaces: not another one's, not a path of the caller's
    from fabric.client.http import ApiError
    with pytest.raises(ApiError) as e:
        api.post("/fabric/probe", {"netns": "/proc/1/ns/net", "probe": probe})
    assert e.value.status == 400 and "not the namespace of a running container" in \
        e.value.message
