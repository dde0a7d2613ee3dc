"""A daemon killed in the middle of connect, disconnect, start or stop: once a daemon
starts again, the store, the kernel and `inspect` agree, and every container still
starts, connects and disconnects.

The in-process tests kill "the daemon" after every single effect of an operation in
turn (each store write, each kernel step, each firewall commit, each container
document saved): from that moment nothing more of it reaches the store or the kernel,
as after a SIGKILL; then a new engine starts on the same root and namespace. The last
test kills a real daemon at random moments of connect and disconnect
(bench/crash_bench.py does the same for many more rounds).
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
from crash_checks import Observed, settled
from fake_engine import FakeEngine
from net_helpers import root_only

from fabric.engine.networking import Networking
from fabric.errors import FabricError
from fabric.net import links
from fabric.network import service
from fabric.network import settings as settingsmod
from fabric.network.context import HostContext
from fabric.network.driver import DriverRegistry
from fabric.plan import Applier

pytestmark = root_only


class Crash(BaseException):
    """The process died here: no handler of the code under test may catch it."""


class Fuse:
    """Counts effects; the one after `allowed` kills the process, and so does every
    later one (a dead process changes nothing any more)."""

    def __init__(self, allowed: float):
        self.allowed = allowed
        self.count = 0
        self.dead = False

    def gate(self, *_args) -> None:
        if self.dead or self.count >= self.allowed:
            self.dead = True
            raise Crash(f"killed after {self.count} effects")
        self.count += 1


class World:
    """A host namespace, a root, container documents that outlive "the daemon", and the
    daemon's networking, made again from the root at every restart."""

    def __init__(self, tmp_path, make_ns):
        self.host = make_ns("host")
        self.make_ns = make_ns
        self.path = str(tmp_path / "root")
        self.eng = FakeEngine(self.path)
        self.mgr = self._networking()
        self.sandboxes = 0

    def _networking(self) -> Networking:
        ctx = HostContext.load(self.eng.root, DriverRegistry.from_entry_points(),
                               netns=self.host)
        mgr = Networking(self.eng, ctx, settingsmod.Settings())
        mgr.start()
        return mgr

    def restart(self) -> None:
        """A new daemon on the same root: the store reopened, the documents kept."""
        docs = self.eng.containers.docs
        self.eng = FakeEngine(self.path)
        self.eng.containers.docs = docs
        self.mgr = self._networking()
        # the container reconcile that follows, in this model where a container runs
        # as long as its namespace is there: one whose process is gone is settled
        for doc in self.eng.containers.all():
            if doc["State"]["Status"] == "running" and not os.path.exists(
                    doc["NetworkSettings"]["SandboxKey"]):
                self.stop(doc["Name"][1:])

    @contextmanager
    def armed(self, fuse: Fuse, monkeypatch):
        """Every effect of the networking passes the fuse while this lasts."""
        eng, fw = self.eng, self.mgr.core.firewall
        real_tx, real_save, real_render = eng.store.tx, eng.containers.save, fw.render

        @contextmanager
        def tx():
            fuse.gate()
            with real_tx() as c:
                yield c

        def save(doc):
            fuse.gate()
            real_save(doc)

        def delete(cid):
            fuse.gate()
            real_delete(cid)
        real_delete = eng.containers.delete

        def render():
            fuse.gate()
            real_render()

        class GatedApplier(Applier):
            def __init__(self, ctx, **kw):
                super().__init__(ctx, **{**kw, "fault": fuse.gate})

            def _rollback(self, done, cause):
                fuse.gate()   # a dead process undoes nothing
                super()._rollback(done, cause)

        def gated(fn):
            def call(*args, **kw):
                fuse.gate()
                return fn(*args, **kw)
            return call

        with monkeypatch.context() as m:
            # a link is tagged in a request of its own, after it is made: a kill in
            # between leaves it untagged (and the handler that deletes it never runs)
            m.setattr(links, "set_alias", gated(links.set_alias))
            m.setattr(links, "delete", gated(links.delete))
            m.setattr(eng.store, "tx", tx)
            m.setattr(eng.containers, "save", save)
            m.setattr(eng.containers, "delete", delete)
            m.setattr(fw, "render", render)
            m.setattr(service, "Applier", GatedApplier)
            yield

    # --- what the engine's lifecycle does around the network hooks -------------------

    def doc(self, name: str = "c") -> dict:
        return self.eng.containers.get(name)

    def running(self, name: str = "c") -> bool:
        return self.doc(name)["State"]["Status"] == "running"

    def start(self, name: str = "c") -> None:
        doc = self.doc(name)
        self.sandboxes += 1
        ns = self.make_ns(f"{name}{self.sandboxes}")
        doc["NetworkSettings"]["SandboxKey"] = f"/run/netns/{ns}"
        self.mgr.attach(doc, f"/run/netns/{ns}")
        doc["State"].update(Status="running", Running=True)
        self.eng.containers.save(doc)

    def stop(self, name: str = "c") -> None:
        doc = self.doc(name)
        self.mgr.detach(doc, sandbox_ending=True)
        subprocess.run(["ip", "netns", "del", doc["NetworkSettings"]["SandboxKey"]
                        .rsplit("/", 1)[1]], check=False)
        doc["State"].update(Status="exited", Running=False)
        self.eng.containers.save(doc)

    def remove(self, name: str) -> None:
        """`rm -f`: the run torn down, then the container's network state and its row."""
        if self.running(name):
            self.stop(name)
        doc = self.doc(name)
        doc["State"]["Status"] = "removing"
        self.eng.containers.save(doc)
        self.mgr.detach(doc)
        self.mgr.removed(doc)
        self.eng.containers.delete(doc["Id"])

    def on_side(self) -> bool:
        return "side" in self.doc()["NetworkSettings"]["Networks"]

    # --- what is there --------------------------------------------------------------

    def observe(self) -> Observed:
        mgr = self.mgr
        docs = self.eng.containers.all()
        sandboxes = {d["Id"]: ip_json(d["NetworkSettings"]["SandboxKey"].rsplit("/", 1)[1],
                                      "addr")
                     for d in docs if d["State"]["Status"] == "running"}
        return Observed(docs=docs, rows=mgr.core.svc.records.endpoints(),
                        networks=[mgr.inspect_network(n["Id"]) for n in mgr.list_networks()],
                        host_links=ip_json(self.host, "-d", "link"), sandboxes=sandboxes)


def ip_json(ns: str, *args: str) -> list:
    out = subprocess.run(["ip", "-n", ns, "-j", *args, "show"], capture_output=True,
                         text=True).stdout
    return json.loads(out or "[]")


def make_container(w: World, name: str, network: str = "default") -> None:
    hc = {"NetworkMode": network}
    w.mgr.validate({}, hc, {})
    doc = w.eng.containers.new(name, network=network)
    w.mgr.created(doc)
    w.eng.containers.save(doc)


def fresh_container(w: World) -> None:
    """A running container `gone` on side, for `rm` to remove."""
    if not any(d["Name"] == "/gone" for d in w.eng.containers.all()):
        make_container(w, "gone", "side")
    if not w.running("gone"):
        w.start("gone")


def spare_network(w: World) -> None:
    if not any(n["Name"] == "spare" for n in w.mgr.list_networks()):
        w.mgr.create_network({"Name": "spare"})


@pytest.fixture
def world(tmp_path, make_ns):
    w = World(tmp_path, make_ns)
    w.mgr.create_network({"Name": "side", "IPAM": {"Config": [{"Subnet": "10.160.0.0/24"}]}})
    make_container(w, "c")
    make_container(w, "peer", "side")
    w.start("c")
    w.start("peer")
    yield w
    for doc in w.eng.containers.all():
        w.mgr.detach(doc)
    for net in w.mgr.core.svc.list_networks():
        if w.mgr.core.svc.has_driver(net):
            w.mgr.core.svc.run(w.mgr.core.svc.driver(net["driver"]).plan_delete(
                w.mgr.core.svc.model(net)))


# operation -> (how to reach the state it starts from, the operation)
OPERATIONS = {
    "connect": (lambda w: w.on_side() and w.mgr.disconnect("side", "c"),
                lambda w: w.mgr.connect("side", "c")),
    "disconnect": (lambda w: not w.on_side() and w.mgr.connect("side", "c"),
                   lambda w: w.mgr.disconnect("side", "c")),
    "start": (lambda w: w.running() and w.stop(), lambda w: w.start()),
    "stop": (lambda w: not w.running() and w.start(), lambda w: w.stop()),
    "rm": (fresh_container, lambda w: w.remove("gone")),
    "network rm": (spare_network, lambda w: w.mgr.remove_network("spare")),
}


def prepare(w: World, op: str) -> None:
    """c running (or stopped, for start) and on side or not, as `op` needs."""
    if op in ("connect", "disconnect") and not w.running():
        w.start()
    OPERATIONS[op][0](w)


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_a_daemon_killed_after_any_effect_leaves_nothing_that_disagrees(world, op,
                                                                          monkeypatch):
    prepare(world, op)
    counting = Fuse(float("inf"))
    with world.armed(counting, monkeypatch):
        OPERATIONS[op][1](world)
    effects = counting.count
    assert effects >= 3, "the fuse sees the operation's effects"
    for allowed in range(effects):
        prepare(world, op)
        fuse = Fuse(allowed)
        with world.armed(fuse, monkeypatch), pytest.raises(Crash):
            OPERATIONS[op][1](world)
        world.restart()
        found = settled(world.observe)
        assert found == [], f"{op} killed after {allowed} of {effects} effects: {found}"
        if op in ("connect", "disconnect"):
            assert world.running()   # the container outlives a kill of the daemon
    # and everything still works from there: the next round's preparation already
    # started, stopped, connected or disconnected from each state a kill left
    for step in OPERATIONS:
        prepare(world, step)
        OPERATIONS[step][1](world)
    assert settled(world.observe) == []


def test_network_rm_is_refused_while_a_stopped_container_names_it(world):
    world.mgr.connect("side", "c")
    world.stop()
    with pytest.raises(FabricError, match="network side .* has active endpoints .*c"):
        world.mgr.remove_network("side")
    world.start()   # still on side
    assert world.doc()["NetworkSettings"]["Networks"]["side"]["IPAddress"]


def test_a_daemon_start_leaves_the_documents_of_containers_that_never_ran_alone(world):
    hc = {"NetworkMode": "side"}
    ask = {"EndpointsConfig": {"side": {"IPAMConfig": {"IPv4Address": "10.160.0.50"},
                                        "MacAddress": "02:aa:bb:cc:dd:ee"}}}
    world.mgr.validate({}, hc, ask)
    doc = world.eng.containers.new("asked", network="side", networking=ask)
    world.mgr.created(doc)
    world.eng.containers.save(doc)
    before = world.doc("asked")
    world.restart()
    assert world.doc("asked") == before
    world.start("asked")
    es = world.doc("asked")["NetworkSettings"]["Networks"]["side"]
    assert (es["IPAddress"], es["MacAddress"]) == ("10.160.0.50", "02:aa:bb:cc:dd:ee")


def test_disconnect_from_a_network_that_is_gone(world):
    """A document naming a network removed behind its back (an older root) can still
    be disconnected from it, and then starts."""
    world.mgr.connect("side", "c")
    world.stop()
    doc = world.doc()
    doc["NetworkSettings"]["Networks"]["gone"] = {
        **doc["NetworkSettings"]["Networks"]["side"], "NetworkID": "f" * 64}
    world.eng.containers.save(doc)
    with pytest.raises(FabricError, match="network gone not found"):
        world.start()
    world.mgr.disconnect("gone", "c")
    world.start()
    assert settled(world.observe) == []


# --- a real daemon, killed at random moments ------------------------------------------

def observe_host(host) -> Observed:
    ids = host.fab("ps", "-aq", "--no-trunc").out.split()
    docs = json.loads(host.fab("inspect", *ids).out) if ids else []
    nets = json.loads(host.fab("network", "inspect", *host.fab(
        "network", "ls", "-q", "--no-trunc").out.split()).out)
    db = sqlite3.connect(f"file:{host.root}/fabric.db?mode=ro", uri=True)
    try:
        rows = [json.loads(r[0]) for r in db.execute("SELECT doc FROM endpoints")]
    finally:
        db.close()
    links = json.loads(host.sh("ip -j -d link show").out or "[]")
    boxes = {d["Id"]: json.loads(host.sh(f"ip -n {d['NetworkSettings']['SandboxID']} "
                                         "-j addr show").out or "[]")
             for d in docs if d["State"]["Status"] == "running"}
    return Observed(docs=docs, rows=rows, networks=nets, host_links=links, sandboxes=boxes)


def kill_during(host, path: str, body: dict, delay: float) -> None:
    """Send one API request, and kill the daemon `delay` seconds after."""
    client = host.api()

    def send():
        try:
            client.post(path, body)
        except Exception:
            pass   # the daemon died under it, or the request was refused
    t = threading.Thread(target=send)
    t.start()
    time.sleep(delay)
    host.kill_daemon(signal.SIGKILL)
    t.join(10)


def test_a_daemon_killed_at_random_moments_of_connect_and_disconnect(host):
    host.fab("network", "create", "--subnet", "10.161.0.0/24", "side")
    for name in ("a", "b"):
        host.fab("run", "-d", "--name", name, "busybox", "sleep", "600")
    rnd = random.Random()
    for _ in range(4):
        name = rnd.choice("ab")
        on = "side" in host.inspect(name)["NetworkSettings"]["Networks"]
        verb = "disconnect" if on else "connect"
        kill_during(host, f"/networks/side/{verb}", {"Container": name},
                    rnd.uniform(0.0, 0.03))
        assert settled(lambda: observe_host(host)) == []   # the CLI started a new daemon
    for name in ("a", "b"):
        host.fab("restart", "-t", "0", name)
        on = "side" in host.inspect(name)["NetworkSettings"]["Networks"]
        host.fab("network", "disconnect" if on else "connect", "side", name)
    assert settled(lambda: observe_host(host)) == []
    host.fab("rm", "-f", "a", "b")
    host.fab("network", "rm", "side")
