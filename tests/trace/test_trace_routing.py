"""`fabric lab trace` across three hosts of the routing driver: the hops on each host,
the route each one chose, and a missing route making the probe die on the host
that lacks it (tests/trace/routing-3.yaml)."""

import os

import pytest
from lab.labcli import lab, unique
from tracehelp import hops, lab_down, lab_trace, lab_up, one

FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "routing-3.yaml")


@pytest.fixture(scope="module")
def name():
    n = lab_up(FILE, unique("trace-rt"))
    try:
        yield n
    finally:
        lab_down(n)


def on(name: str, host: str, cmd: str) -> None:
    r = lab("exec", name, host, "--", "sh", "-c", cmd)
    assert r.code == 0, r


def test_three_hosts_each_hop_and_route_then_no_route_on_h2(name):
    doc = lab_trace(name, "a", "c")
    assert doc["result"] == "ok", doc["verdict"]
    r1 = one(doc, "route", host="h1", namespace="host", verdict="forward")
    assert r1["rule"] == "10.40.9.0/24 via 192.168.18.13 dev eth0 proto fabric"
    assert r1["reason"] == ("route to 10.40.9.0/24 via h3 (192.168.18.13) dev eth0: fabric's, "
                            "to network cnet's containers on another host")
    one(doc, "filter", host="h1", reason="allowed: a leaving network cnet")
    r3 = one(doc, "route", host="h3", namespace="host", verdict="forward")
    assert r3["rule"].startswith("10.40.9.0/24 dev fab-") and "proto kernel" in r3["rule"]
    one(doc, "filter", host="h3", reason="allowed: from a (10.40.0.2), a subnet network cnet "
                                         "reaches without NAT")
    one(doc, "bridge", host="h3", verdict="forward", reason="to c's port")
    one(doc, "route", host="h3", namespace="c", verdict="deliver")
    assert not hops(doc, host="h2")
    one(doc, "route", "reply", host="h3", verdict="forward", rule="via 192.168.18.11")

    # h1 forgets fabric's route to c's slice and falls back on a plain one via h2
    on(name, "h1", "ip route add 10.40.0.0/16 via 192.168.18.12 && "
                   "ip route del 10.40.9.0/24 proto 251")
    doc = lab_trace(name, "a", "c")
    assert doc["result"] == "ok", doc["verdict"]
    seen = [x["host"] for x in hops(doc, "route") if x["namespace"] == "host"]
    assert seen == ["h1", "h2", "h3"], seen
    r1 = one(doc, "route", host="h1", namespace="host", verdict="forward")
    assert r1["rule"] == "10.40.0.0/16 via 192.168.18.12 dev eth0 proto boot"
    assert r1["reason"] == ("route to 10.40.0.0/16 via h2 (192.168.18.12) dev eth0: the "
                            "host's own (proto boot)")
    r2 = one(doc, "route", host="h2", verdict="forward")
    assert r2["rule"] == "10.40.9.0/24 via 192.168.18.13 dev eth0 proto fabric"
    assert r2["interface"] == "eth0 -> eth0"
    one(doc, "filter", host="h2", reason="not fabric's traffic")
    # the TTL tells the order: one less on each host that routed it (the forward
    # hook already sees it decremented)
    ttls = [x["packet"].rsplit("ttl ", 1)[1] for x in hops(doc, "route")]
    assert ttls == ["64", "63", "62", "61", "61"], ttls

    # and h2 loses its route too: the probe dies there, and says so
    on(name, "h2", "ip route del 10.40.9.0/24 proto 251")
    doc = lab_trace(name, "a", "c")
    assert doc["verdict"] == "no route to 10.40.9.0/24 on host h2"
    last = hops(doc)[-1]
    assert (last["host"], last["stage"], last["verdict"]) == ("h2", "route", "drop")
    assert last["rule"] == "no route to 10.40.9.9"
    # the ICMP error h2 sent back is traced to a
    err = hops(doc, direction="error")
    assert err and err[0]["host"] == "h2" and "unreachable" in err[0]["packet"]
    assert err[-1]["namespace"] == "a" and err[-1]["verdict"] == "deliver"
