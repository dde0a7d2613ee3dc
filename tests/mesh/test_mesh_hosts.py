"""The mesh across real lab hosts, made the way a user makes it: `fabric mesh launch` on
h1, `mesh launch h1` on h2, `mesh launch 192.168.18.11` on h3, containers started
weave-style (`run --ip 10.32.1.2/24`). Reachability and names across hosts, nothing
learnt or flooded, the MTU, join and leave within 2 s, a peer forgotten and connected
again, `mesh status` against the kernel and a daemon restart, icc=false and
anti-spoofing for frames arriving through the tunnel, bad input, and last a host
killed and rebuilt. One lab for the module; each test leaves it as it found it."""

import json
import subprocess
import time

import pytest
from meshwire import Tap, counter, frame, inject, mtu, send_frames
from multihost import MultiHost, wait_until

from fabric.probe import Probe, send

JOIN = 2.0      # the bound for a container or a peer to be reached, or gone


@pytest.fixture(scope="module")
def mesh():
    m = MultiHost("ms")
    try:
        h1 = m.add("h1", "192.168.18.11/24")
        h2 = m.add("h2", "192.168.18.12/24")
        h3 = m.add("h3", "192.168.18.13/24")
        h1.fab("mesh", "launch")
        h2.fab("mesh", "launch", "h1")
        h3.fab("mesh", "launch", "192.168.18.11")
        m.a = h1.run("a", "--ip", "10.32.1.2/24")                         # type: ignore
        m.b = h2.run("b", "--ip", "10.32.1.10/24", cmd="httpd -f -p 80 -h /")  # type: ignore
        m.c = h3.run("c", "--network", "mesh")                           # type: ignore
        yield m
    finally:
        m.close()


def reach(src, dst: str, want: str = "ok", within: float = JOIN) -> float:
    """Seconds until a probe from `src` to `dst` gives `want` (fails past `within`)."""
    ok, took = wait_until(lambda: src.probe(dst, timeout=0.2).result == want, within,
                          step=0.01)
    assert ok, f"{src.name} -> {dst}: not {want} within {within} s"
    return took


def status(h) -> dict:
    return next(d for d in json.loads(h.fab("mesh", "status", "--json").stdout)
                if d["Network"] == "mesh")


def tunnel(h) -> str:
    return status(h)["Tunnel"]["Name"]


def fdb(h) -> str:
    return h.sh(f"bridge fdb show dev {tunnel(h)}").stdout


def one_line_error(r, text: str) -> None:
    assert r.returncode == 125, r
    assert r.stderr.count("\n") == 1 and text in r.stderr, r.stderr


def test_containers_reach_each_other_across_three_hosts_by_address_and_name(mesh):
    a, b, c = mesh.a, mesh.b, mesh.c
    h1 = mesh.hosts["h1"]
    assert a.ip("mesh") == "10.32.1.2" and b.ip("mesh") == "10.32.1.10"
    assert c.ip("mesh") == "10.32.0.2"      # one pool: the lowest free, whichever host
    for src, dst in ((a, b), (b, c), (c, a)):
        reach(src, dst.ip("mesh"))
    assert send(a.netns, Probe("tcp", "10.32.1.10", 80, timeout=1)).result == "ok"
    # no NAT within the mesh: b sees a itself
    assert c.source_seen_by(a, "10.32.1.2") == "10.32.0.2"
    hosts = h1.fab("exec", "a", "cat", "/etc/hosts").stdout
    assert "10.32.1.10\tb\n" in hosts and "10.32.0.2\tc\n" in hosts
    assert h1.fab("exec", "a", "ping", "-c1", "-W2", "c", check=False).returncode == 0
    doc = json.loads(h1.fab("inspect", "a").stdout)[0]["NetworkSettings"]["Networks"]["mesh"]
    assert doc["IPPrefixLen"] == 12 and doc["MacAddress"] == "02:42:0a:20:01:02"


def test_nothing_is_learnt_and_an_unknown_mac_is_not_flooded_to_peers(mesh):
    h1, h2, h3 = (mesh.hosts[n] for n in ("h1", "h2", "h3"))
    vx = tunnel(h1)
    d = h1.sh(f"ip -d link show dev {vx}").stdout
    assert f"vxlan id {status(h1)['VNI']} " in d and "dstport 4789" in d
    assert " nolearning " in d and " proxy " in d
    entries = fdb(h1)
    assert "02:42:0a:20:01:0a dst 192.168.18.12 self permanent" in entries
    assert "00:00:00:00:00:00" not in entries          # no default destination
    neigh = h1.sh(f"ip neigh show dev {vx}").stdout
    assert "10.32.1.10 lladdr 02:42:0a:20:01:0a PERMANENT" in neigh
    # frames from a for a MAC nobody published, a broadcast and an ARP request for an
    # address nobody holds: the tunnel sends none of them to the peers
    a = mesh.a
    unknown = frame("02:42:0a:20:01:02", "02:42:0a:20:ee:ee", "10.32.1.2", "10.32.238.238",
                    b"unknown", udp=True)
    bcast = frame("02:42:0a:20:01:02", "ff:ff:ff:ff:ff:ff", "10.32.1.2", "10.47.255.255",
                  b"bcast", udp=True)
    before = {h.name: counter(h, tunnel(h), "rx_packets") for h in (h2, h3)}
    sent, dropped = counter(h1, vx, "tx_packets"), counter(h1, vx, "tx_dropped")
    send_frames(a.netns, "eth0", unknown, 20)
    send_frames(a.netns, "eth0", bcast, 20)
    h1.fab("exec", "a", "arping", "-c", "3", "-w", "1", "-I", "eth0", "10.32.238.238",
           check=False)
    time.sleep(0.2)
    assert counter(h1, vx, "tx_dropped") - dropped >= 40
    assert counter(h1, vx, "tx_packets") == sent
    assert {h.name: counter(h, tunnel(h), "rx_packets") for h in (h2, h3)} == before


def test_mtu_is_the_underlay_s_less_the_vxlan_header(mesh):
    h1 = mesh.hosts["h1"]
    vx = tunnel(h1)
    br = status(h1)["Bridge"]
    assert [mtu(h1, vx), mtu(h1, br)] == [1450, 1450]
    assert "mtu 1450" in h1.fab("exec", "a", "ip", "link", "show", "eth0").stdout
    # the largest ping that fits, and a 1 MiB transfer, cross unfragmented
    assert h1.fab("exec", "a", "ping", "-c1", "-W2", "-s", "1422", "10.32.1.10",
                  check=False).returncode == 0
    p = Probe("tcp", "10.32.1.10", 9000, timeout=20, nbytes=1 << 20, sink_netns=mesh.b.netns)
    assert send(mesh.a.netns, p).result == "ok"


def test_an_mtu_bigger_than_the_tunnel_carries_is_a_black_hole_the_doctor_names(mesh):
    h1, h2 = mesh.hosts["h1"], mesh.hosts["h2"]
    for h in (h1, h2):
        h.fab("network", "create", "-d", "mesh", "--subnet", "10.51.0.0/24", "-o", "mtu=1500",
              "big")
    ba, bb = h1.run("ba", "--network", "big"), h2.run("bb", "--network", "big")
    try:
        reach(ba, bb.ip("big"))
        # the kernel holds the VXLAN port to its NIC's 1500 less 50: a full-size frame
        # from a container on the 1500-byte bridge is dropped there
        assert h1.fab("exec", "ba", "ping", "-c1", "-W2", "-s", "1472", bb.ip("big"),
                      check=False).returncode != 0
        found = json.loads(h1.fab("doctor", "--json", check=False).stdout)["Findings"]
        said = [f for f in found if f["check"] == "mtu"]
        assert len(said) == 1 and said[0]["what"].startswith("network big's VXLAN tunnel"), \
            found
        assert "needs 1500 + 50 = 1550 bytes, but eth0 has MTU 1500: packets over 1450 " \
            "bytes vanish (an MTU black hole)" in said[0]["what"], said
        # a bigger NIC alone would not do: the kernel's VXLAN port keeps its 1450
        assert said[0]["fix"].startswith("ip link set dev eth0 mtu 1550 (and on the way to "
                                         "the other end), then ip link set dev fvx-"), said
        assert said[0]["fix"].endswith("or re-create network big with -o mtu=1450"), said
    finally:
        for h, c in ((h1, "ba"), (h2, "bb")):
            h.fab("rm", "-f", c)
            h.fab("network", "rm", "big")


def test_a_container_is_reached_from_every_host_within_2s_and_gone_within_2s(mesh):
    h1, h3 = mesh.hosts["h1"], mesh.hosts["h3"]
    t0 = time.monotonic()
    h3.run("d", "--ip", "10.32.3.3/24")
    for src in (mesh.a, mesh.b):
        reach(src, "10.32.3.3", within=JOIN - (time.monotonic() - t0) + 0.2)
    assert time.monotonic() - t0 < JOIN + 0.5
    ok, _ = wait_until(lambda: "10.32.3.3\td" in h1.fab("exec", "a", "cat",
                                                       "/etc/hosts").stdout, JOIN)
    assert ok, "d's name did not reach a's /etc/hosts"
    h3.fab("rm", "-f", "d")
    for src in (mesh.a, mesh.b):
        reach(src, "10.32.3.3", want="blocked")
    assert "02:42:0a:20:03:03 dst" not in fdb(h1)
    assert "\td\n" not in h1.fab("exec", "a", "cat", "/etc/hosts").stdout


def test_a_peer_forgotten_is_gone_within_2s_and_back_when_connected_again(mesh):
    h1, h2 = mesh.hosts["h1"], mesh.hosts["h2"]
    a, b, c = mesh.a, mesh.b, mesh.c
    h1.fab("mesh", "forget", "h3")
    for src, dst in ((a, c), (b, c), (c, a)):
        reach(src, dst.ip("mesh"), want="blocked")
    peers = {p["Host"].split(".")[1]: p for p in status(h1)["Peers"]}
    assert peers["h3"]["State"] == "forgotten" and peers["h2"]["State"] == "established"
    assert "dst 192.168.18.13" not in fdb(h1)
    assert reach(a, b.ip("mesh")) < 0.1           # the rest of the mesh carries on
    h2.fab("mesh", "connect", "h3")
    for src, dst in ((a, c), (b, c), (c, a)):
        reach(src, dst.ip("mesh"))
    assert status(h1)["Peers"][-1]["State"] == "established"


def test_status_names_each_programmed_entry_and_its_record_and_a_restart_puts_back_a_flushed_one(
        mesh):
    h1 = mesh.hosts["h1"]
    text = h1.fab("mesh", "status").stdout
    lab = mesh.name
    assert f"this host  {lab}.h1  underlay 192.168.18.11 (eth0, MTU 1500)" in text
    assert "nolearning proxy  MTU 1450" in text
    assert f"    {lab}.h2  192.168.18.12  established  1 endpoint(s)" in text
    assert "  addresses  one pool 10.32.0.0/12, gateway 10.32.0.1 on each host's bridge" in text
    assert f"    b  10.32.1.10  02:42:0a:20:01:0a  {lab}.h2" in text
    doc = status(h1)
    line = next(x for x in text.splitlines() if "fdb    02:42:0a:20:01:0a" in x)
    assert f"dst 192.168.18.12 self static  ok  for b on {lab}.h2  from /fabric/leases/" \
           f"{doc['Id']}/10.32.1.10 rev " in line
    assert all(e["Present"] for e in doc["Programmed"]) and doc["Stray"] == []
    # taken out by hand: status says so; a daemon that restarts puts it back
    h1.sh(f"bridge fdb del 02:42:0a:20:01:0a dev {tunnel(h1)} dst 192.168.18.12 self")
    assert "fdb    02:42:0a:20:01:0a" in h1.fab("mesh", "status").stdout.split("MISSING")[0]
    h1.host.stop_daemon()
    h1.host.start_daemon()
    ok, _ = wait_until(lambda: all(e["Present"] for e in status(h1)["Programmed"]), 5)
    assert ok
    reach(mesh.a, "10.32.1.10")


def test_icc_false_and_anti_spoofing_hold_for_frames_through_the_tunnel(mesh):
    h1, h2 = mesh.hosts["h1"], mesh.hosts["h2"]
    a, b = mesh.a, mesh.b
    for h in (h1, h2):
        h.fab("network", "create", "-d", "mesh", "--subnet", "10.50.0.0/24", "-o", "icc=false",
              "quiet")
    qa, qb = h1.run("qa", "--network", "quiet"), h2.run("qb", "--network", "quiet")
    try:
        # icc=false across hosts, as on one
        for src, dst in ((qa, "10.50.0.3"), (qb, "10.50.0.2")):
            reach(src, dst, want="blocked")
        # and one host's own trace names the container on the other by its name
        said = h1.fab("trace", "qa", "10.50.0.3", check=False).stdout.splitlines()
        assert said[-1] == ("dropped: icc=false on network quiet; containers qa and qb are "
                            "not linked"), said
        vni = {d["Network"]: d["VNI"] for d in json.loads(h1.fab("mesh", "status",
                                                                 "--json").stdout)}
        # frames sent into h1's tunnel by hand from h2, as a container there (or the
        # host itself) could: only a container's own MAC and address get through
        tap = Tap(a.netns, "eth0")
        try:
            def delivered(src_mac, src_ip, marker, dst_mac="02:42:0a:20:01:02",
                          dst_ip="10.32.1.2", net="mesh"):
                inject(h2.netns, "192.168.18.11", vni[net],
                       frame(src_mac, dst_mac, src_ip, dst_ip, marker))
                return tap.seen(marker)
            assert delivered("02:42:0a:20:01:0a", "10.32.1.10", b"honest-b")
            assert not delivered("02:42:0a:20:01:0a", "10.32.9.9", b"forged-ip")
            assert not delivered("02:42:0a:20:09:09", "10.32.1.10", b"forged-mac")
            assert not delivered("02:42:0a:20:01:02", "10.32.1.2", b"posing-as-a")
        finally:
            tap.close()
        qtap = Tap(qa.netns, "eth0")
        try:
            inject(h2.netns, "192.168.18.11", vni["quiet"],
                   frame("02:42:0a:32:00:03", "02:42:0a:32:00:02", "10.50.0.3", "10.50.0.2",
                         b"icc-off"))
            assert not qtap.seen(b"icc-off")
        finally:
            qtap.close()
        # the honest frame was b's: the mesh itself still works
        reach(b, a.ip("mesh"))
    finally:
        h1.fab("rm", "-f", "qa")
        h2.fab("rm", "-f", "qb")
        for h in (h1, h2):
            h.fab("network", "rm", "quiet")


def test_bad_input_is_one_line_and_makes_nothing(mesh):
    h1, h2 = mesh.hosts["h1"], mesh.hosts["h2"]
    nets = h1.fab("network", "ls", "-q").stdout
    links = h1.sh("ip -o link show").stdout.count("fvx-")
    vni = status(h1)["VNI"]
    one_line_error(h1.fab("mesh", "launch", "192.168.18.99", "--network", "other", check=False),
                   "peer 192.168.18.99 does not answer")
    one_line_error(h1.fab("mesh", "connect", "nosuch", check=False),
                   "peer nosuch is not a host of this cluster")
    one_line_error(h1.fab("network", "create", "-d", "mesh", "-o", f"vni={vni}", "--subnet",
                          "10.60.0.0/24", "clash", check=False),
                   f"VNI {vni} is taken by network mesh of the cluster")
    one_line_error(h1.fab("network", "create", "-d", "mesh", "--subnet", "10.32.5.0/24",
                          "clash", check=False), "10.32.0.0/12")
    assert h1.fab("network", "ls", "-q").stdout == nets
    assert h1.sh("ip -o link show").stdout.count("fvx-") == links
    one_line_error(h2.fab("run", "-d", "--name", "x1", "--network", "mesh", "--ip",
                          "10.99.0.5", "busybox", "sleep", "1d", check=False),
                   "outside subnet 10.32.0.0/12")
    one_line_error(h2.fab("run", "-d", "--name", "x2", "--ip", "10.32.1.2/24", "busybox",
                          "sleep", "1d", check=False),
                   f"address 10.32.1.2 is already in use on network mesh (container a on "
                   f"host {mesh.name}.h1)")
    one_line_error(h2.fab("run", "-d", "--name", "x3", "--ip", "10.99.1.2/24", "busybox",
                          "sleep", "1d", check=False),
                   "no mesh network holds 10.99.1.2/24 (mesh networks here: mesh 10.32.0.0/12)")
    assert h2.fab("ps", "-aq").stdout.split() == [mesh.b.id[:12]]


def test_a_host_killed_and_rebuilt_rejoins_and_its_old_endpoints_are_withdrawn(mesh):
    h1 = mesh.hosts["h1"]
    old = mesh.c.ip("mesh")
    mesh.remove("h3")           # namespace, daemon, containers gone: the store keeps c
    assert "dst 192.168.18.13" in fdb(h1)
    # the kernel takes the old NIC's peer off the segment in its own cleanup work
    ok, _ = wait_until(lambda: subprocess.run(
        ["nsenter", f"--net={mesh.segment}", "ip", "link", "show", "h3-eth0"],
        capture_output=True).returncode != 0, 5)
    assert ok
    h3 = mesh.add("h3", "192.168.18.13/24")
    h3.fab("mesh", "launch", "h1")
    ok, _ = wait_until(lambda: "dst 192.168.18.13" not in fdb(h1), JOIN)
    assert ok, "the killed host's old endpoints are still programmed on h1"
    t0 = time.monotonic()
    e = h3.run("e", "--ip", "10.32.3.30/24")
    for src in (mesh.a, mesh.b):
        reach(src, "10.32.3.30")
    assert time.monotonic() - t0 < JOIN + 0.5
    assert reach(e, "10.32.1.2") < 0.5
    assert old not in h1.sh(f"ip neigh show dev {tunnel(h1)}").stdout
