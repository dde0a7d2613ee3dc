"""Three hosts in a full mesh of GRE tunnels on learning bridges: a broadcast would go
round h1 -> h2 -> h3 -> h1 for ever, each copy flooded again. Split horizon (every
tunnel port protected) stops that: 1,000 broadcast frames from one container reach each
other container once each, and the hosts' OVS is idle again within 5 s."""

import time

import pytest
from multihost import MultiHost, wait_until
from ovs_helpers import broadcast, cpu_seconds, drain, instance, listener, ports

FRAMES = 1000


@pytest.fixture(scope="module")
def lab():
    m = MultiHost("lp")
    try:
        for i in (1, 2, 3):
            h = m.add(f"h{i}", f"192.168.18.1{i}/24")
            h.fab("network", "create", "-d", "ovs", "-o", "flat=true", "--subnet",
                  "10.62.0.0/16", "mesh")
        yield m
    finally:
        m.close()


def test_a_full_mesh_of_three_hosts_does_not_loop(lab):
    boxes = [lab.hosts[f"h{i}"].run(f"c{i}", "--network", "mesh") for i in (1, 2, 3)]
    a, others = boxes[0], boxes[1:]
    for b in others:
        got, _ = wait_until(lambda b=b: a.probe(b.ip("mesh")).result == "ok", 10.0)
        assert got, b.name
    for h in lab.hosts.values():
        tunnels = [p for p in ports(h).values() if p["type"] == "gre"]
        assert len(tunnels) == 2 and all(p["protected"] for p in tunnels)
    socks = [listener(b.netns) for b in others]
    vswitchd = [instance(h).pid("ovs-vswitchd") for h in lab.hosts.values()]
    start = time.monotonic()
    broadcast(a.netns, FRAMES)
    time.sleep(1.0)
    counts = [drain(s) for s in socks]
    for b, seen in zip(others, counts):
        # every frame arrived, and none twice: nothing came round again
        print(f"{b.name}: {len(seen)} frames, {sum(seen.values())} copies")
        assert max(seen.values()) == 1, f"{b.name} got frames more than once"
        assert len(seen) == FRAMES
    # idle within 5 s: the vswitchds burn under 5% of a core over a second
    time.sleep(max(0.0, 4.0 - (time.monotonic() - start)))
    before = cpu_seconds(vswitchd)
    time.sleep(1.0)
    used = cpu_seconds(vswitchd) - before
    print(f"OVS CPU 4-5 s after the burst: {used * 100:.1f}% of a core (3 hosts)")
    assert used < 0.05
    for s in socks:
        assert not drain(s), "frames still arriving"
        s.close()
