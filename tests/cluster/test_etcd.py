"""Hosts on etcd: the routing driver across two lab hosts whose cluster store is a real
etcd in a namespace of its own on their segment (multihost.MultiHost(store="etcd"),
as a lab with `cluster: {store: etcd}` has it).

- etcd stopped while traffic flows between containers on two hosts: the traffic keeps
  flowing (a TCP connection and pings); what needs the store is refused with one clear
  line (a new global network, a new container on one), a container removed meanwhile
  goes at once and its address lease is given back when etcd is back; then the hosts
  converge: a container started after etcd's return is reachable from the other host.
- a peer removed and re-added: a third host joins, leaves, and is made anew under its
  name, and is routed again with the slice it had.
- a daemon whose etcd is unreachable from the start: it serves, one line in its log,
  and `network create` of a global network fails with one line, quickly, making
  nothing.
"""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from multihost import LabHost, MultiHost, routing_pair, wait_until

from fabric.cluster.connect import connect
from fabric.net import nsexec

SUBNET = "10.40.0.0/16"
FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
LAB = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "labs",
                                    "routing-etcd.yaml"))


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("et", store="etcd")
    try:
        routing_pair(m, SUBNET)
        yield m
    finally:
        m.close()


def routes(h: LabHost) -> str:
    return h.sh("ip route show proto 251").stdout


def leased(lab: MultiHost) -> list[str]:
    """What etcd says is leased on cnet, asked from inside etcd's namespace."""
    code = ("import json, sys\nfrom fabric.cluster.connect import connect\n"
            "c = connect(sys.argv[1])\n"
            "print(json.dumps(c.leased(c.networks.find_network('cnet')['id'])))")
    assert lab.etcd is not None
    out = subprocess.run(["nsenter", f"--net=/run/netns/{lab.etcd.netns}", sys.executable,
                          "-c", code, lab.store], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Flow:
    """Pings from one container to another every 50 ms, and one TCP connection between
    them that carries a line each time, until stopped: what got through and what not."""

    def __init__(self, src, dst, ip: str, port: int = 7100):
        self.src, self.dst, self.ip = src, dst, ip
        self.sent = self.lost = self.lines = 0
        srv = nsexec.run(dst.netns, socket.socket)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))
        srv.listen(1)
        self.cli = nsexec.run(src.netns, socket.socket)
        self.cli.settimeout(2)
        self.cli.connect((ip, port))
        self.conn, _ = srv.accept()
        self.conn.settimeout(2)
        srv.close()
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ok = self.src.probe(self.ip, timeout=0.5).result == "ok"
            self.cli.sendall(b"x" * 99 + b"\n")
            got = bool(self.conn.recv(100))
            with self.lock:     # a round counts whole
                self.sent += 1
                self.lost += not ok
                self.lines += got
            time.sleep(0.05)

    def counts(self) -> tuple[int, int, int]:
        with self.lock:
            return self.sent, self.lost, self.lines

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cli.close()
        self.conn.close()


def test_routing_across_hosts_on_etcd(lab):
    h1, h2, a, b = lab.hosts["h1"], lab.hosts["h2"], lab.a, lab.b
    assert a.ip("cnet") == "10.40.0.2" and b.ip("cnet") == "10.40.1.2"
    assert "10.40.1.0/24 via 192.168.18.12 dev eth0" in routes(h1)
    assert "10.40.0.0/24 via 192.168.18.11 dev eth0" in routes(h2)
    assert a.source_seen_by(b, "10.40.1.2") == "10.40.0.2"
    assert h1.fab("info").returncode == 0
    assert leased(lab) == '["10.40.0.2", "10.40.1.2", "192.168.18.11", "192.168.18.12"]'


def test_etcd_stopped_while_traffic_flows_then_the_hosts_converge(lab):
    h1, h2, a, b = lab.hosts["h1"], lab.hosts["h2"], lab.a, lab.b
    gone = h1.run("gone", "--network", "cnet")
    gone_ip = gone.ip("cnet")
    flow = Flow(a, b, "10.40.1.2")
    try:
        time.sleep(0.3)
        lab.etcd.stop()
        said, _ = wait_until(lambda: "unreachable" in h1.daemon_log(), 5.0)
        assert said, h1.daemon_log()
        # what needs the store is refused, with one line that says why
        r = h1.fab("network", "create", "-d", "routing", "--subnet", "10.41.0.0/16", "other",
                   check=False)
        assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"cluster store {lab.store} is unreachable" in r.stderr, r.stderr
        assert "other" not in h1.fab("network", "ls").stdout
        r = h2.fab("run", "-d", "--name", "late", "--network", "cnet", "busybox", "sleep",
                   "1d", check=False)
        assert r.returncode == 125 and "is unreachable" in r.stderr, r.stderr
        h2.fab("rm", "-f", "late", check=False)
        # what lets go of something goes at once; the store hears of it later
        h1.fab("rm", "-f", "gone")
        time.sleep(2.0)     # traffic flows on while the store is away
        before = flow.counts()
        lab.etcd.start()
        came, took = wait_until(lambda: gone_ip not in leased(lab), 5.0, 0.1)
        assert came, leased(lab)
        print(f"etcd back: {gone_ip}'s lease given back after {took * 1000:.0f} ms")
    finally:
        flow.stop()
    sent, lost, lines = before
    assert sent > 20 and lost == 0 and lines == sent, (sent, lost, lines)
    assert flow.lost == 0 and flow.lines == flow.sent
    for h in (h1, h2):
        log = h.daemon_log()
        # said once, not at every retry
        assert log.count("changes to global networks wait for it") == 1, log
        assert "answers again" in log, log
    # converged: a container made now on h2 is reachable from h1's at once
    late = h2.run("late2", "--network", "cnet")
    try:
        assert a.probe(late.ip("cnet")).result == "ok"
    finally:
        h2.fab("rm", "-f", "late2")


def test_a_peer_removed_and_re_added_gets_its_slice_and_routes_back(lab):
    h1, h2, a = lab.hosts["h1"], lab.hosts["h2"], lab.a
    h3 = lab.add("h3", "192.168.18.13/24")
    try:
        h3.fab("network", "create", "-d", "routing", "--subnet", SUBNET, "cnet")
        c = h3.run("c", "--network", "cnet")
        assert c.ip("cnet") == "10.40.2.2"
        got, _ = wait_until(lambda: a.probe("10.40.2.2").result == "ok", 2.0)
        assert got
        # removed: the host and all it had, without a word to the store (a machine lost)
        lab.remove("h3")
        assert a.probe("10.40.2.2").result == "blocked"
        # re-added under its name: it takes its slice again, and is routed again
        h3 = lab.add("h3", "192.168.18.13/24")
        # a machine coming up announces its address (its NIC is a new one: the other
        # hosts' ARP caches still hold the old MAC)
        h3.sh("busybox arping -U -c 1 -I eth0 192.168.18.13")
        h3.fab("network", "create", "-d", "routing", "--subnet", SUBNET, "cnet")
        c = h3.run("c", "--network", "cnet")
        assert c.ip("cnet") == "10.40.2.2"
        for h in (h1, h2):
            ok, _ = wait_until(lambda h=h: "10.40.2.0/24 via 192.168.18.13" in routes(h), 2.0)
            assert ok, routes(h)
        assert a.probe("10.40.2.2").result == "ok"
        # and leaves cleanly: unrouted everywhere
        h3.fab("rm", "-f", "c")
        h3.fab("network", "rm", "cnet")
        for h in (h1, h2):
            ok, _ = wait_until(lambda h=h: "10.40.2.0" not in routes(h), 2.0)
            assert ok, routes(h)
    finally:
        if "h3" in lab.hosts:
            lab.remove("h3")


def test_a_daemon_whose_etcd_is_unreachable_serves_says_so_once_and_makes_nothing(lab):
    # an address on the segment that nobody holds: connects time out, nothing refuses
    h = lab.add("lone", "192.168.18.20/24", cluster=False,
                settings={"cluster-store": "etcd://192.168.18.251:2379",
                          "cluster-advertise": "192.168.18.20"})
    try:
        assert h.fab("info").returncode == 0
        said, _ = wait_until(lambda: "unreachable" in h.daemon_log(), 10.0)
        assert said, h.daemon_log()
        start = time.monotonic()
        r = h.fab("network", "create", "-d", "routing", "--subnet", "10.42.0.0/16", "far",
                  check=False)
        assert time.monotonic() - start < 10
        assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
        assert "cluster store etcd://192.168.18.251:2379 is unreachable" in r.stderr
        assert "far" not in h.fab("network", "ls").stdout
        assert "fab-" not in h.sh("ip -o link").stdout
        # local containers do not need the store
        assert h.fab("run", "--rm", "busybox", "true").returncode == 0
        time.sleep(1.0)
        assert h.daemon_log().count("wait for it") == 1, h.daemon_log()
    finally:
        lab.remove("lone")


def test_the_etcd_url_is_checked_as_a_setting():
    from fabric.errors import InvalidArgument
    from fabric.network import settings
    for bad in ("etcd://", "etcd://10.0.0.1", "etcd://10.0.0.1:99999", "etcd://:2379",
                "etcd://10.0.0.1:2379,", "consul://10.0.0.1:8500"):
        with pytest.raises(InvalidArgument, match="cluster"):
            settings.parse({"cluster-store": bad})
    assert settings.etcd_endpoints("etcd://10.0.0.1:2379, [fd00::5]:2379") == [
        ("10.0.0.1", 2379), ("fd00::5", 2379)]
    connect("etcd://10.0.0.1:2379,10.0.0.2:2379").close()   # contacts nothing


def test_the_cli_never_loads_the_etcd_client():
    code = ("import sys, fabric.cli.main, fabric.cluster.connect, fabric.lab.deploy, "
            "fabric.lab.etcd\nprint(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('etcd3gw', 'requests')))")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         check=True, cwd="/", env={**os.environ})
    assert out.stdout.strip() == "[]"


def test_a_lab_on_etcd_where_etcd_is_not_installed_says_so_and_makes_nothing(tmp_path):
    labs = tmp_path / "labs"
    env = {**os.environ, "PATH": str(tmp_path), "FABRIC_LABS_DIR": str(labs)}
    r = subprocess.run([FABRIC, "lab", "up", LAB], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 125, r
    assert r.stderr == f"{LAB}:7: cluster.store: etcd is not installed (Debian: apt-get " \
        "install etcd-server)\n", r.stderr
    assert not labs.exists() or not list(labs.iterdir())
    assert not [n for n in os.listdir("/run/netns") if n.endswith("routing-etcd")]


def test_a_lab_on_etcd_killed_half_way_comes_down_with_its_etcd():
    from lab.labcli import LABS_DIR, lab, leftovers, unique
    run = unique("etcd-killed")
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    p = subprocess.Popen([FABRIC, "lab", "up", "--name", run, LAB], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = os.path.join(LABS_DIR, run, "etcd", "etcd.pid")
    try:
        up, _ = wait_until(lambda: os.path.exists(pidfile), 30.0, 0.005)
        assert up
    finally:
        p.kill()
        p.wait()
    assert f"netns fabe-{run}" in leftovers(run), leftovers(run)
    d = lab("down", run)
    assert d.code == 0, d
    assert leftovers(run) == []


def test_calls_and_the_watch_fail_over_to_an_endpoint_that_answers(inside_etcd):
    from fabric.cluster.kv import Put
    from fabric.errors import Unavailable
    c = connect(f"etcd://127.0.0.1:1,{inside_etcd.address}:{inside_etcd.port}")
    rev = c.kv.revision()
    # refused by the first, so never sent there: the transaction goes to the next
    assert c.kv.txn([], [Put("/fo/a", "1")])[0] and c.kv.get("/fo/a").value == "1"
    events, _ = c.kv.changes("/fo/", rev, 2.0)
    assert [e.key for e in events] == ["/fo/a"]
    c.close()
    with pytest.raises(Unavailable) as e:
        connect("etcd://127.0.0.1:1,127.0.0.1:2").kv.get("/fo/a")
    assert e.value.message == ("cluster store etcd://127.0.0.1:1,127.0.0.1:2 is "
                               "unreachable (127.0.0.1:1 connection refused; 127.0.0.1:2 "
                               "connection refused)")
