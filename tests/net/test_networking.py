"""The engine's networking (fabric/engine/networking.py) driven the way the container
lifecycle drives it, over a fake engine, with a namespace as the host and one namespace
per container: real veths, real traffic, real hosts files."""

import json
import subprocess

import pytest
from fake_engine import FakeEngine
from net_helpers import ping, registry_with_test_drivers, root_only, snapshot
from polling import wait_for

from fabric.engine.networking import Networking
from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.net import links, rtnl
from fabric.network import settings as settingsmod
from fabric.network.context import HostContext
from fabric.network.driver import DriverRegistry

pytestmark = root_only


def networking(eng, host: str, settings: settingsmod.Settings | None = None,
               drivers: DriverRegistry | None = None) -> Networking:
    """As Engine.__init__ builds it, for a host that is the namespace `host`."""
    ctx = HostContext.load(eng.root, drivers or DriverRegistry.from_entry_points(), netns=host)
    return Networking(eng, ctx, settings)


def delete_networks(svc) -> None:
    for net in svc.list_networks():
        if svc.has_driver(net):
            svc.run(svc.driver(net["driver"]).plan_delete(svc.model(net)))


@pytest.fixture
def env(tmp_path, make_ns):
    host = make_ns("host")
    before = snapshot(host)
    eng = FakeEngine(str(tmp_path / "root"))
    mgr = networking(eng, host, settingsmod.Settings())
    mgr.start()
    box = {"eng": eng, "mgr": mgr, "host": host, "before": before, "make_ns": make_ns}
    yield box
    # whatever a test left running is stopped, then every network removed
    for doc in eng.containers.all():
        box["mgr"].detach(doc)
    delete_networks(box["mgr"].core.svc)


def start(box, doc, role=None):
    """What the engine's start does around the network hooks."""
    eng, mgr = box["eng"], box["mgr"]
    ns = box["make_ns"](role or doc["Name"].lstrip("/"))
    doc["NetworkSettings"]["SandboxKey"] = f"/run/netns/{ns}"
    mgr.attach(doc, f"/run/netns/{ns}")
    hosts, _resolv = mgr.etc_files(doc)
    with open(doc["HostsPath"], "w") as f:
        f.write(hosts)
    doc["State"].update(Status="running", Running=True)
    eng.containers.save(doc)
    return ns


def stop(box, doc):
    doc = box["eng"].containers.get(doc["Id"])
    box["mgr"].detach(doc)
    doc["State"].update(Status="exited", Running=False)
    box["eng"].containers.save(doc)
    return doc


def create(box, name, **kw):
    eng, mgr = box["eng"], box["mgr"]
    hc = {"NetworkMode": kw.get("network", "default"), "Links": kw.get("links"),
          "ExtraHosts": kw.get("extra_hosts"), "PortBindings": kw.get("bindings") or {}}
    mgr.validate({"MacAddress": kw.get("mac", "")}, hc, kw.get("networking") or {})
    doc = eng.containers.new(name, **kw)
    mgr.created(doc)
    eng.containers.save(doc)
    return doc


def hosts(doc):
    with open(doc["HostsPath"]) as f:
        return f.read()


def test_default_bridge_and_builtins(env):
    mgr = env["mgr"]
    names = {n["Name"]: n for n in mgr.list_networks()}
    assert set(names) == {"bridge", "host", "none"}
    br = mgr.inspect_network("bridge")
    assert br["IPAM"]["Config"] == [{"Subnet": "10.88.0.0/16", "Gateway": "10.88.0.1"}]
    assert br["Options"]["com.docker.network.bridge.name"] == "fabric0"
    with rtnl.rtnl(env["host"]) as ipr:
        assert links.get(ipr, "fabric0").alias == "fabric:" + br["Id"][:12]
    with pytest.raises(InvalidArgument, match="pre-defined"):
        mgr.remove_network("bridge")
    mgr.start()  # a second start changes nothing and fails nothing


def test_links_on_the_default_bridge(env):
    db = create(env, "db", exposed={"5432/tcp": {}, "53/udp": {}, "53/tcp": {}},
                env=["PASSWORD=x", "PATH=/bin", "HOME=/root"])
    web = create(env, "web", links=["db:dbalias"])
    with pytest.raises(Conflict, match="Cannot link to a non running container: "
                                       "/db AS /web/dbalias"):
        start(env, web, "web0")
    assert env["mgr"].core.svc.records.endpoints(container_id=web["Id"]) == []
    start(env, db)
    start(env, web)
    db, web = (env["eng"].containers.get(x) for x in ("db", "web"))
    dbip = db["NetworkSettings"]["IPAddress"]
    assert dbip.startswith("10.88.") and db["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert f"{dbip}\tdbalias {db['Config']['Hostname']} db\n" in hosts(web)
    assert hosts(web).endswith(f"{web['NetworkSettings']['IPAddress']}\t"
                               f"{web['Config']['Hostname']}\n")
    envs = env["mgr"].env(web)
    assert envs == [
        f"DBALIAS_PORT=tcp://{dbip}:53",
        f"DBALIAS_PORT_53_TCP=tcp://{dbip}:53", f"DBALIAS_PORT_53_TCP_ADDR={dbip}",
        "DBALIAS_PORT_53_TCP_PORT=53", "DBALIAS_PORT_53_TCP_PROTO=tcp",
        f"DBALIAS_PORT_53_UDP=udp://{dbip}:53", f"DBALIAS_PORT_53_UDP_ADDR={dbip}",
        "DBALIAS_PORT_53_UDP_PORT=53", "DBALIAS_PORT_53_UDP_PROTO=udp",
        f"DBALIAS_PORT_5432_TCP=tcp://{dbip}:5432", f"DBALIAS_PORT_5432_TCP_ADDR={dbip}",
        "DBALIAS_PORT_5432_TCP_PORT=5432", "DBALIAS_PORT_5432_TCP_PROTO=tcp",
        "DBALIAS_NAME=/web/dbalias", "DBALIAS_ENV_PASSWORD=x"]
    # the target restarts on a new address: the consumer's hosts line follows it
    stop(env, db)
    blocker = create(env, "blocker")
    start(env, blocker)        # takes db's old address
    db = env["eng"].containers.get("db")
    subprocess.run(["ip", "netns", "del", db["NetworkSettings"]["SandboxKey"].split("/")[-1]])
    start(env, db, "db2")
    newip = env["eng"].containers.get("db")["NetworkSettings"]["IPAddress"]
    assert newip != dbip and f"{newip}\tdbalias" in hosts(web)
    assert ping(web["NetworkSettings"]["SandboxKey"].split("/")[-1], newip)


def test_user_defined_network_names_aliases_and_isolation(env):
    mgr = env["mgr"]
    mgr.create_network({"Name": "app", "IPAM": {"Config": [{"Subnet": "10.130.0.0/24"}]}})
    a = create(env, "a", network="app",
               networking={"EndpointsConfig": {"app": {"Aliases": ["alpha"]}}})
    b = create(env, "b", network="app")
    c = create(env, "c")   # default bridge
    na, nb, nc = start(env, a), start(env, b), start(env, c)
    a, b = env["eng"].containers.get("a"), env["eng"].containers.get("b")
    aip = a["NetworkSettings"]["Networks"]["app"]["IPAddress"]
    bip = b["NetworkSettings"]["Networks"]["app"]["IPAddress"]
    assert aip == "10.130.0.2" and bip == "10.130.0.3"
    assert f"{aip}\ta alpha\n" in hosts(b) and f"{bip}\tb\n" in hosts(a)
    assert ping(na, bip) and ping(nb, aip)
    # Different networks are different bridges; that routed traffic between them is
    # dropped is the firewall's part (tested with the firewall backend).
    bridges = {n.name: n.facts.interfaces for n in mgr.core.firewall.intent().networks}
    assert bridges["app"] != bridges["bridge"]
    assert ping(nc, "10.88.0.1")
    insp = mgr.inspect_network("app")
    assert {v["Name"] for v in insp["Containers"].values()} == {"a", "b"}
    with pytest.raises(Conflict, match="has active endpoints"):
        mgr.remove_network("app")
    stop(env, b)
    assert f"{bip}\tb" not in hosts(a)   # peers' files follow


def test_static_ip_mac_and_bad_endpoint_input(env):
    mgr = env["mgr"]
    mgr.create_network({"Name": "lab", "IPAM": {"Config": [
        {"Subnet": "10.131.0.0/24", "IPRange": "10.131.0.128/25"}]}})
    x = create(env, "x", network="lab", mac="02:aa:bb:cc:dd:ee", networking={
        "EndpointsConfig": {"lab": {"IPAMConfig": {"IPv4Address": "10.131.0.9"}}}})
    start(env, x)
    x = env["eng"].containers.get("x")
    es = x["NetworkSettings"]["Networks"]["lab"]
    assert (es["IPAddress"], es["MacAddress"]) == ("10.131.0.9", "02:aa:bb:cc:dd:ee")
    y = create(env, "y", network="lab", networking={
        "EndpointsConfig": {"lab": {"IPAMConfig": {"IPv4Address": "10.131.0.9"}}}})
    before = snapshot(env["host"])
    with pytest.raises(Conflict, match="address 10.131.0.9 is already in use on network lab"):
        start(env, y)
    assert snapshot(env["host"]) == before
    z = create(env, "z", network="lab")
    start(env, z)
    assert env["eng"].containers.get("z")["NetworkSettings"]["Networks"]["lab"][
        "IPAddress"] == "10.131.0.128"
    with pytest.raises(InvalidArgument, match="user defined networks only"):
        create(env, "w", networking={"EndpointsConfig": {"bridge": {
            "IPAMConfig": {"IPv4Address": "10.88.0.50"}}}})
    with pytest.raises(InvalidArgument, match="outside subnet"):
        create(env, "w", network="lab", networking={"EndpointsConfig": {"lab": {
            "IPAMConfig": {"IPv4Address": "10.9.0.50"}}}})
    with pytest.raises(NotFound, match="network nosuch not found"):
        create(env, "w", network="nosuch")
    # Docker refuses these on --network none too
    with pytest.raises(InvalidArgument, match="^user specified IP address is supported on "
                                              "user defined networks only$"):
        create(env, "w", network="none", networking={"EndpointsConfig": {"none": {
            "IPAMConfig": {"IPv4Address": "10.131.0.50"}}}})
    with pytest.raises(InvalidArgument, match="alias is supported only for containers in "
                                              "user defined networks"):
        create(env, "w", network="none", networking={"EndpointsConfig": {"none": {
            "Aliases": ["x"]}}})
    with pytest.raises(InvalidArgument, match="invalid MAC"):
        create(env, "w", mac="zz")


@pytest.mark.parametrize("body,err,msg", [
    ({"Name": "o1", "IPAM": {"Config": [{"Subnet": "10.88.5.0/24"}]}}, Conflict,
     "overlaps with network bridge"),
    ({"Name": "o2", "IPAM": {"Config": [{"Subnet": "10.132.0.0/24",
                                         "Gateway": "10.133.0.1"}]}}, InvalidArgument,
     "gateway 10.133.0.1 is outside subnet"),
    ({"Name": "o3", "Options": {"com.docker.network.bridge.name": "br-way-too-long0"}},
     InvalidArgument, "longer than 15"),
    ({"Name": "o4", "Driver": "nosuch"}, InvalidArgument, "unknown network driver 'nosuch'"),
    ({"Name": "bad name"}, InvalidArgument, "invalid network name"),
    ({"Name": "bridge"}, Conflict, "already exists"),
])
def test_bad_network_input_leaves_nothing(env, body, err, msg):
    before = snapshot(env["host"])
    n = len(env["mgr"].core.svc.list_networks())
    with pytest.raises(err, match=msg):
        env["mgr"].create_network(body)
    assert snapshot(env["host"]) == before and len(env["mgr"].core.svc.list_networks()) == n


def test_publishing_where_the_driver_states_no_facts_fails_at_create(env):
    env["mgr"] = mgr = networking(env["eng"], env["host"], settingsmod.Settings(),
                                  drivers=registry_with_test_drivers())
    mgr.start()
    mgr.create_network({"Name": "q", "Driver": "quiet"})
    with pytest.raises(InvalidArgument) as e:
        create(env, "p", network="q", bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    assert "cannot publish ports on network q" in str(e.value) and e.value.exit_code == 125
    create(env, "p", network="q", exposed={"80/tcp": {}})   # exposing alone is fine


def test_connect_disconnect_running_container_and_prune(env):
    mgr = env["mgr"]
    mgr.create_network({"Name": "side", "Internal": True})
    a = create(env, "a")
    na = start(env, a)
    mgr.connect("side", "a", {"Aliases": ["sidekick"]})
    a = env["eng"].containers.get("a")
    side_ip = a["NetworkSettings"]["Networks"]["side"]["IPAddress"]
    assert side_ip.startswith("10.90.")
    out = subprocess.run(["ip", "-n", na, "-o", "addr", "show", "eth1"],
                         capture_output=True, text=True).stdout
    assert side_ip in out
    with pytest.raises(Conflict, match="already exists in network side"):
        mgr.connect("side", "a")
    mgr.disconnect("side", "a")
    assert "eth1" not in subprocess.run(["ip", "-n", na, "-o", "link"],
                                        capture_output=True, text=True).stdout
    assert "side" not in env["eng"].containers.get("a")["NetworkSettings"]["Networks"]
    assert mgr.prune_networks() == ["side"]


def test_published_ports_are_chosen_and_conflicts_refused(env):
    p1 = create(env, "p1", exposed={"80/tcp": {}, "81/tcp": {}},
                bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, publish_all=True)
    start(env, p1)
    ports = env["eng"].containers.get("p1")["NetworkSettings"]["Ports"]
    assert ports["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "8080"}]
    assert ports["81/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "32768"}]
    p2 = create(env, "p2", bindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    with pytest.raises(Conflict, match="0.0.0.0:8080 failed: port is already allocated"):
        start(env, p2)
    intent = env["mgr"].core.firewall.intent()
    assert {(p.host_port, p.container_port) for p in intent.ports} == {(8080, 80),
                                                                       (32768, 81)}
    # a program listening on the host holds the port too
    srv = subprocess.Popen(["ip", "netns", "exec", env["host"], "busybox", "nc", "-l",
                            "-p", "9090"])
    try:
        wait_for(lambda: ":9090 " in subprocess.run(
            ["ip", "netns", "exec", env["host"], "ss", "-Hltn"], capture_output=True,
            text=True).stdout)
        p3 = create(env, "p3", bindings={"80/tcp": [{"HostIp": "", "HostPort": "9090"}]})
        with pytest.raises(Conflict, match="already in use by another program"):
            start(env, p3)
    finally:
        srv.kill()
        srv.wait()


def test_teardown_leaves_the_host_as_it_was(env):
    mgr = env["mgr"]
    mgr.create_network({"Name": "t1"})
    a = create(env, "a", network="t1")
    b = create(env, "b")
    start(env, a)
    start(env, b)
    for name in ("a", "b"):
        stop(env, env["eng"].containers.get(name))
    with pytest.raises(Conflict, match="network t1 .* has active endpoints \\(a\\)"):
        mgr.remove_network("t1")   # a stopped container still names it
    mgr.disconnect("t1", "a")
    mgr.remove_network("t1")
    delete_networks(mgr.core.svc)
    after = snapshot(env["host"])
    assert after["links"] == env["before"]["links"]
    assert after["addrs"] == env["before"]["addrs"]
    assert after["routes"] == env["before"]["routes"]
    with rtnl.rtnl(env["host"]) as ipr:
        assert links.tagged(ipr) == []
    assert mgr.core.svc.records.endpoints() == []
    json.dumps(mgr.list_networks())


def test_firewall_intent_is_built_from_the_store(env):
    mgr = env["mgr"]
    mgr.create_network({"Name": "quiet", "Options": {"icc": "false"}, "Internal": True})
    db = create(env, "db", exposed={"5432/tcp": {}})
    web = create(env, "web", links=["db"])
    q = create(env, "q", network="quiet")
    for d in (db, web, q):
        start(env, d)
    it = mgr.core.firewall.intent()
    by_name = {n.name: n for n in it.networks}
    assert not by_name["quiet"].facts.icc and by_name["quiet"].internal
    assert by_name["bridge"].facts.icc and by_name["bridge"].facts.interfaces == ("fabric0",)
    dbip = env["eng"].containers.get("db")["NetworkSettings"]["IPAddress"]
    webip = env["eng"].containers.get("web")["NetworkSettings"]["IPAddress"]
    assert [(lk.consumer_ip, lk.target_ip, lk.ports) for lk in it.links] == \
        [(webip, dbip, (("tcp", 5432, 5432),))]
    eps = {e.ipv4: e for e in it.endpoints}
    assert eps[dbip].mac == "02:42:" + ":".join(f"{int(o):02x}" for o in dbip.split("."))
    assert it.enabled
    # iptables=false: the intent says so, the backend installs nothing
    off = networking(env["eng"], env["host"], settingsmod.Settings(iptables=False))
    assert not off.core.firewall.intent().enabled


def test_daemon_options_override_the_settings_file(env, tmp_path):
    with open(env["eng"].root.settings, "w") as f:
        json.dump({"network": {"bip": "192.168.77.1/24", "icc": False}}, f)
    mgr = networking(env["eng"], env["host"])
    mgr.configure({"mtu": 1400, "icc": None})
    s = mgr.core.svc.settings
    assert (s.bip, s.icc, s.mtu) == ("192.168.77.1/24", False, 1400)
    with pytest.raises(InvalidArgument, match="unknown network setting"):
        mgr.configure({"colour": "blue"})


def test_default_bridge_follows_bip_and_an_existing_bridge(env, uid):
    eng, host = env["eng"], env["host"]
    mgr = networking(eng, host, settingsmod.Settings(
        bip="192.168.77.1/24", fixed_cidr="192.168.77.128/25", mtu=1400, icc=False))
    mgr.start()   # no container uses the default bridge: it is re-made from the settings
    br = mgr.inspect_network("bridge")
    assert br["IPAM"]["Config"] == [{"Subnet": "192.168.77.0/24", "Gateway": "192.168.77.1",
                                     "IPRange": "192.168.77.128/25"}]
    assert br["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    out = subprocess.run(["ip", "-n", host, "-o", "addr", "show", "fabric0"],
                         capture_output=True, text=True).stdout
    assert "192.168.77.1/24" in out and "10.88.0.1" not in out
    # -b br0: a bridge made by hand, with its own address, used as it is
    brname = f"br{uid}"
    subprocess.run(["ip", "-n", host, "link", "add", brname, "type", "bridge"], check=True)
    subprocess.run(["ip", "-n", host, "addr", "add", "172.30.9.1/24", "dev", brname],
                   check=True)
    mgr = networking(eng, host, settingsmod.Settings(bridge=brname))
    mgr.start()
    env["mgr"] = mgr
    br = mgr.inspect_network("bridge")
    assert br["IPAM"]["Config"] == [{"Subnet": "172.30.9.0/24", "Gateway": "172.30.9.1"}]
    c = create(env, "c")
    ns = start(env, c)
    assert ping(ns, "172.30.9.1")
    stop(env, c)
    default = mgr.core.svc.get_network("bridge")
    assert default["gateway_owned"] is False
    mgr.core.svc.run(mgr.core.svc.driver("bridge").plan_delete(mgr.core.svc.model(default)))
    out = subprocess.run(["ip", "-n", host, "-o", "addr", "show", brname],
                         capture_output=True, text=True).stdout
    assert "172.30.9.1/24" in out   # the user's bridge and address stay
