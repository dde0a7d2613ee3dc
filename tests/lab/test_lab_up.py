"""Every lab in labs/ goes up, passes `lab test` and comes down with nothing left; a
wrong expectation fails `lab test` and says which; a `lab up` killed half way is
removed whole by `lab down`."""

import json
import os
import signal
import subprocess
import time

import pytest
from polling import wait_for

from fabric.lab import resolve
from lab.labcli import FABRIC, LABS, LABS_DIR, lab, lab_file, leftovers, root_snapshot, unique

# What a lab waits for, and how its failure looks until then: (stage, text) -> reason.
# Every lab of issue 7 has what it needs; the overlays issue's labs will wait here.
WAITING: dict[str, list[tuple[str, str, str]]] = {}

ALL = sorted(f[:-5] for f in os.listdir(LABS) if f.endswith(".yaml"))


def _on_etcd(name: str) -> bool:
    """An overlay lab on the embedded store, which runs on a lab etcd as well."""
    with open(lab_file(name)) as f:
        return name.startswith(("mesh-", "ovs-")) and "\ncluster:" not in f.read()


# every overlay scenario with both store backends (issue 8)
ON_ETCD = [n for n in ALL if _on_etcd(n)]


def _skip_if_waiting(name: str, stage: str, r) -> None:
    for s, text, reason in WAITING.get(name, []):
        if s == stage and text in r.out + r.err:
            pytest.skip(reason)


@pytest.mark.parametrize("name", ALL)
def test_lab_goes_up_passes_and_comes_down_with_nothing_left(name):
    _up_test_down(name, lab_file(name))


@pytest.mark.parametrize("name", ON_ETCD)
def test_an_overlay_lab_on_etcd_goes_up_passes_and_comes_down(name, tmp_path):
    with open(lab_file(name)) as f:
        text = f.read()
    assert "\nsegments:" in text
    on_etcd = tmp_path / f"{name}.yaml"
    on_etcd.write_text(text.replace("\nsegments:", "\ncluster: {store: etcd}\nsegments:", 1))
    _up_test_down(name, str(on_etcd))


def _up_test_down(name: str, path: str) -> None:
    before = root_snapshot()
    run = unique(name)
    try:
        r = lab("up", "--name", run, path)
        _skip_if_waiting(name, "up", r)
        assert r.code == 0, r
        assert f"lab {run} is up" in r.out
        # the same file again: a no-op that reports the lab as up
        again = lab("up", "--name", run, path)
        assert again.code == 0 and "is up already" in again.out, again
        t = lab("test", run)
        _skip_if_waiting(name, "test", t)
        assert t.code == 0, t
        assert "failed" in t.out and ", 0 failed" in t.out, t.out
    finally:
        d = lab("down", run)
    assert d.code == 0 and f"lab {run} removed" in d.out, d
    assert leftovers(run) == []
    assert root_snapshot() == before
    gone = lab("down", run)
    assert gone.code == 0 and gone.out == f"lab {run} is not up\n", gone


@pytest.fixture(scope="module")
def two_hosts():
    run = unique("two-hosts")
    r = lab("up", "--name", run, lab_file("two-hosts"))
    assert r.code == 0, r
    try:
        yield run
    finally:
        lab("down", run)
        assert leftovers(run) == []


def test_wrong_expectation_fails_and_says_which(two_hosts, tmp_path):
    wrong = tmp_path / "wrong.yaml"
    text = open(lab_file("two-hosts")).read()
    text = text.replace("{from: other, to: web, proto: tcp, port: 80, expect: blocked}",
                        "{from: other, to: web, proto: tcp, port: 80, expect: ok, within: 1}")
    wrong.write_text(text)
    r = lab("test", "--name", two_hosts, str(wrong), "--junit", str(tmp_path / "j.xml"))
    assert r.code == 1, r
    assert "changed since lab" in r.err
    assert "FAILED other -> web tcp/80: expected ok, got blocked" in r.out
    assert "7 checks, 6 passed, 1 failed" in r.out
    assert "BLOCKED" in r.out
    assert 'failures="1"' in (tmp_path / "j.xml").read_text()
    j = lab("test", two_hosts, "--json")
    doc = json.loads(j.out)
    assert j.code == 0 and doc["passed"] and doc["total"] == 7


def test_status_exec_ls_and_names(two_hosts):
    s = lab("status", two_hosts)
    assert s.code == 0, s
    assert f"fabh-{two_hosts}.h1" in s.out and "eth0 192.168.18.11/24" in s.out
    web = [ln for ln in s.out.splitlines() if ln.startswith("web ")]
    assert web and "running" in web[0] and "bridge=10.88.0." in web[0]
    e = lab("exec", two_hosts, "h2", "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0")
    assert e.code == 0 and "192.168.18.12/24" in e.out, e
    e = lab("exec", two_hosts, "web", "--", "cat", "/www/index.html")
    assert e.code == 0 and e.out == "hello from web on h2\n", e
    ls = lab("ls")
    assert any(ln.split()[:3] == [two_hosts, "up", "2"] for ln in ls.out.splitlines()), ls
    # ordinary commands reach a lab host by LAB.HOST
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    ps = subprocess.run(FABRIC + ["-H", f"{two_hosts}.h2", "ps", "--format", "{{.Names}}"],
                        capture_output=True, text=True, env=env, timeout=30)
    assert sorted(ps.stdout.split()) == ["app", "other", "web"], ps
    # the same lab name from another file is refused
    other = lab("up", "--name", two_hosts, lab_file("bridge-publish"))
    assert other.code == 125 and "is up from another file" in other.err, other


def test_a_lab_that_is_up_has_every_host_caught_up_with_the_store(two_hosts):
    from fabric.lab import live
    views = [live.client(two_hosts, h).call("GET", "/fabric/cluster") for h in ("h1", "h2")]
    assert views[0]["Store"] == views[1]["Store"]
    assert views[0]["Store"].startswith("sqlite://") and views[0]["Store"].endswith(
        f"/{two_hosts}/cluster.db")
    for v in views:
        assert v["Synced"] and v["Away"] is None and v["Revision"] == v["StoreRevision"], v


def test_lab_up_killed_half_way_then_down_leaves_nothing():
    before = root_snapshot()
    run = unique("killed")
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    p = subprocess.Popen(FABRIC + ["lab", "up", "--name", run, lab_file("two-hosts")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    hosts_dir = os.environ["FABRIC_HOSTS_DIR"]

    def some_container() -> bool:
        roots = [os.path.join(hosts_dir, d, "containers") for d in os.listdir(hosts_dir)
                 if d.startswith(f"{run}.")]
        return any(os.path.isdir(r) and os.listdir(r) for r in roots)
    try:
        wait_for(some_container, timeout=60, interval=0.005)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    with open(os.path.join(LABS_DIR, run, "lab.json")) as f:
        assert json.load(f)["state"] == "making"
    assert leftovers(run), "the killed lab up left nothing to clean: the test proves nothing"
    again = lab("up", "--name", run, lab_file("two-hosts"))
    assert again.code == 125 and "is half made" in again.err, again
    d = lab("down", run)
    assert d.code == 0, d
    assert leftovers(run) == []
    assert root_snapshot() == before


def test_a_host_removed_by_hand_then_down(two_hosts):
    # a second lab from the same file, one of whose hosts is killed by hand
    run = unique("byhand")
    assert lab("up", "--name", run, lab_file("bridge-publish")).code == 0
    from fabric.host import hosts
    h = hosts.get(f"{run}.h2")
    h.stop_daemon(signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", h.netns], check=True)
    d = lab("down", run)
    assert d.code == 0, d
    wait_for(lambda: leftovers(run) == [], timeout=10)


def test_impair_at_run_time_and_declared(tmp_path):
    run = unique("lossy")
    assert lab("up", "--name", run, lab_file("lossy-link")).code == 0
    try:
        r = lab("impair", run, "h1:eth0", "rate=10mbit", "loss=5%")
        assert r.code == 0, r
        assert f"tc -n fabh-{run}.h1 qdisc replace dev eth0 root handle fab0: tbf rate 10mbit" \
            in r.out
        out = subprocess.run(["tc", "-n", f"fabh-{run}.h1", "qdisc", "show", "dev", "eth0"],
                             capture_output=True, text=True).stdout
        assert "tbf" in out and "rate 10Mbit" in out
        declared = subprocess.run(["ip", "netns", "exec", f"fabh-{run}.h2", "nft", "list",
                                   "table", "netdev", "fabric_impair"],
                                  capture_output=True, text=True).stdout
        assert "loss=10%" in declared
        bad = lab("impair", run, "h1:eth9", "loss=5%")
        assert bad.code == 125 and "host h1 has no NIC 'eth9'" in bad.err, bad
        assert lab("impair", run, "h1:eth0", "none").code == 0
    finally:
        assert lab("down", run).code == 0
    assert leftovers(run) == []


def test_every_lab_names_its_requirements():
    # a waiting lab's file must still resolve when its driver exists
    for name in WAITING:
        assert os.path.exists(lab_file(name)), name
        resolve.load(lab_file(name), drivers=["bridge", "routing"])
    assert time.time() > 0
