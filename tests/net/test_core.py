"""The network core with no engine at all: a HostContext, a store, plain requests in;
records, /etc/hosts lines, firewall intent and kernel state out. Drivers registered
only in a test registry prove what the host refuses."""

import ast
import json
import os
import secrets
import subprocess
import sys

import pytest
from net_helpers import ping, registry_with_test_drivers, root_only

from fabric.errors import InvalidArgument
from fabric.firewall.intent import PortIntent
from fabric.network import settings as settingsmod
from fabric.network.context import HostContext, host_name
from fabric.network.core import NetworkCore
from fabric.network.driver import DriverRegistry
from fabric.network.requests import AttachRequest, EndpointRequest, Member, Publish
from fabric.ovs import daemons as ovs_daemons
from fabric.paths import HostRoot
from fabric.store.db import Store

pytestmark = root_only


def embedded_cluster(tmp_path):
    """The embedded cluster store, on a file of the test's own."""
    from fabric.cluster.connect import connect
    return connect(f"sqlite://{tmp_path}/cluster.db")


def make_core(tmp_path, host: str | None, cluster=None) -> NetworkCore:
    root = HostRoot(str(tmp_path / "root"))
    root.ensure()
    ctx = HostContext.load(root, registry_with_test_drivers(), netns=host, cluster=cluster)
    return NetworkCore(ctx, Store(root.db), settingsmod.Settings())


@pytest.fixture
def core(tmp_path, make_ns):
    c = make_core(tmp_path, make_ns("host"))
    c.start(())
    yield c
    for cid in {e["container_id"] for e in c.svc.records.endpoints()}:
        c.attachments.detach(cid, None)
    for net in c.svc.list_networks():
        if c.svc.has_driver(net):
            c.svc.run(c.svc.driver(net["driver"]).plan_delete(c.svc.model(net)))


def member(name: str, **kw) -> Member:
    return Member(container_id=secrets.token_hex(32), name=name, hostname=f"{name}-h", **kw)


def ns_path(ns: str) -> str:
    return f"/run/netns/{ns}"


# --- no engine ------------------------------------------------------------------------

def test_the_network_core_imports_nothing_of_the_engine():
    import fabric.network
    for folder in fabric.network.__path__:
        for name in os.listdir(folder):
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                        [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                    assert not any(m.startswith("fabric.engine") for m in mods), (name, mods)
    code = ("import sys, fabric.network.core\n"
            "print(sorted(m for m in sys.modules if m.startswith('fabric.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "[]\n"


def test_host_context_names_the_host_from_its_root(tmp_path):
    root = HostRoot(str(tmp_path))
    drivers = DriverRegistry()
    ctx = HostContext.load(root, drivers)
    assert (ctx.name, ctx.netns, ctx.underlay, ctx.cluster) == ("local", None, None, None)
    # Open vSwitch is the one thing a bare root offers, where it is installed
    assert ctx.capabilities == ({"ovs"} if ovs_daemons.installed() else set())
    with open(root.host_file, "w") as f:
        json.dump({"name": "lab1.h1", "lab": "lab1", "netns": "fabh-x", "created": 1}, f)
    assert host_name(root) == "lab1.h1"
    assert HostContext.load(root, drivers, cluster=embedded_cluster(tmp_path)).capabilities \
        - {"ovs"} == {"cluster-store"}
    assert HostContext.load(root, drivers, underlay="192.0.2.1").capabilities - {"ovs"} \
        == {"underlay"}
    with open(root.host_file, "w") as f:
        f.write("{")
    with pytest.raises(InvalidArgument, match="cannot read .*host.json"):
        host_name(root)


# --- requires and scope ------------------------------------------------------------------

def test_a_driver_needing_what_the_host_lacks_is_refused(core):
    before = core.svc.list_networks()
    with pytest.raises(InvalidArgument) as e:
        core.networks.create("n1", "needy")
    assert str(e.value) == "network driver 'needy' needs sriov, which host local does not " \
        "offer"
    assert e.value.exit_code == 125
    assert core.svc.list_networks() == before


def test_a_global_driver_is_refused_where_no_cluster_store_is_shared(core):
    before = core.svc.list_networks()
    with pytest.raises(InvalidArgument, match="'wide' makes global networks, which live in a "
                                              "cluster store, and host local shares none"):
        core.networks.create("g1", "wide")
    assert core.svc.list_networks() == before


def test_a_global_network_is_recorded_in_the_cluster_store(tmp_path, make_ns):
    cluster = embedded_cluster(tmp_path)
    c = make_core(tmp_path, make_ns("host"), cluster=cluster)
    doc = c.networks.create("g1", "wide", ipam_config=[{"Subnet": "10.142.0.0/24"}])
    assert [d["id"] for d in cluster.networks.list_networks()] == [doc["id"]]
    # the host's own row is its membership: its endpoints' foreign key points at it
    assert c.svc.records.find_network("g1")["shared"]["slice"] == ""   # not sliced
    assert [m.host for m in cluster.members(doc["id"])] == ["local"]
    assert c.networks.inspect("g1")["Scope"] == "global"
    with pytest.raises(InvalidArgument, match="needs sriov"):
        c.networks.create("n1", "needy")                   # a cluster store is not sriov
    c.networks.remove("g1")
    assert cluster.networks.list_networks() == [] and c.svc.records.find_network("g1") is None


# --- containers on networks, from records alone ------------------------------------------

def test_attach_names_ports_and_detach_without_an_engine(core, make_ns):
    core.networks.create("app", ipam_config=[{"Subnet": "10.140.0.0/24"}])
    app = core.svc.get_network("app")["id"]
    a = member("a", exposed=(("tcp", 80, 80),))
    b = member("b", links=(("a", "alpha"),))
    na, nb = make_ns("a"), make_ns("b")
    got = core.attachments.attach(AttachRequest(
        a, ns_path(na), (EndpointRequest(app, aliases=("web",)),)))
    assert got.endpoints[app]["address"] == "10.140.0.2/24" and got.affected == frozenset()
    pub = Publish(exposed=("80/tcp",), bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    got = core.attachments.attach(AttachRequest(b, ns_path(nb), (EndpointRequest(app),), pub))
    assert got.affected == {a.container_id}     # a's /etc/hosts now names b
    assert got.ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert core.hosts_lines(b.container_id) == ([("10.140.0.3", ["b-h"])],
                                                [("10.140.0.2", ["a", "web", "alpha"])])
    assert core.hosts_lines(a.container_id)[1] == [("10.140.0.3", ["b"])]
    assert core.firewall.intent().ports == (
        PortIntent(b.container_id, app, "tcp", "0.0.0.0", 8080, 8080, "10.140.0.3", 80, 80),)
    assert ping(na, "10.140.0.3")
    gone = core.attachments.detach(b.container_id, ns_path(nb))
    assert gone.affected == {a.container_id} and gone.errors == ()
    assert core.hosts_lines(a.container_id)[1] == []
    assert core.firewall.intent().ports == ()


def test_publishing_where_the_driver_states_no_facts_is_refused(core, make_ns):
    core.networks.create("q", "quiet", ipam_config=[{"Subnet": "10.141.0.0/24"}])
    q = core.svc.get_network("q")["id"]
    ns = make_ns("c")
    c = member("c")
    pub = Publish(exposed=("80/tcp",), bindings={"80/tcp": [{"HostIp": "", "HostPort": "8081"}]})
    with pytest.raises(InvalidArgument) as e:
        core.attachments.attach(AttachRequest(c, ns_path(ns), (EndpointRequest(q),), pub))
    assert "cannot publish ports on network q" in str(e.value) and e.value.exit_code == 125
    assert core.svc.records.endpoints() == []
    # exposing without publishing is fine; the network stays out of the firewall
    got = core.attachments.attach(AttachRequest(c, ns_path(ns), (EndpointRequest(q),),
                                                Publish(exposed=("80/tcp",))))
    assert got.ports == {"80/tcp": None}
    intent = core.firewall.intent()
    assert "q" not in {n.name for n in intent.networks} and intent.endpoints == ()

