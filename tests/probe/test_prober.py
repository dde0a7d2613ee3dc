"""The prober against real namespaces: each protocol's ok, refused and blocked, bytes
to a sink, `via`, and nothing left behind."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from polling import wait_for

from fabric.errors import InvalidArgument, NotFound
from fabric.probe import Probe, send
from probe.topo import in_ns

V = "10.89.0.2"
R = "10.88.0.254"
QUICK = 0.4          # timeout for probes that are expected to meet silence


@pytest.fixture(scope="module", autouse=True)
def httpd_up(routed):
    wait_for(lambda: send(routed.c, Probe("tcp", V, 8080)).result == "ok", timeout=5)


def test_icmp_ok_refused_blocked(routed):
    ok = send(routed.c, Probe("icmp", V))
    assert (ok.result, ok.detail.split(" in ")[0]) == ("ok", f"echo reply from {V}")
    prohibited = send(routed.c, Probe("icmp", "10.89.0.3"))
    assert (prohibited.result, prohibited.detail) == \
        ("blocked", f"ICMP admin prohibited from {R}")
    silent = send(routed.c, Probe("icmp", "10.88.0.77", timeout=QUICK))
    assert (silent.result, silent.detail) == ("blocked", "no echo reply within 0.4 s")
    assert silent.elapsed >= QUICK


def test_tcp_ok_refused_blocked(routed):
    assert send(routed.c, Probe("tcp", V, 80)).result == "ok"
    reset = send(routed.c, Probe("tcp", V, 7999))
    assert (reset.result, reset.detail) == ("refused", f"TCP reset from {V}:7999")
    port_unreach = send(routed.c, Probe("tcp", V, 82))
    assert (port_unreach.result, port_unreach.detail) == \
        ("refused", f"ICMP port unreachable from {R}")
    prohibited = send(routed.c, Probe("tcp", V, 83))
    assert (prohibited.result, prohibited.detail) == \
        ("blocked", f"ICMP admin prohibited from {R}")
    dropped = send(routed.c, Probe("tcp", V, 81, timeout=QUICK))
    assert (dropped.result, dropped.detail) == \
        ("blocked", "no answer to the handshake within 0.4 s")


def test_udp_ok_refused_blocked(routed):
    ok = send(routed.c, Probe("udp", V, 7))
    assert ok.result == "ok" and ok.detail.startswith("UDP reply of ")
    closed = send(routed.c, Probe("udp", V, 9))
    assert (closed.result, closed.detail) == ("refused", f"ICMP port unreachable from {V}")
    dropped = send(routed.c, Probe("udp", V, 10, timeout=QUICK))
    assert (dropped.result, dropped.detail) == ("blocked", "no UDP reply within 0.4 s")


def test_unreachable_routes(routed):
    """r's unreachable route and missing route answer ICMP host and net unreachable."""
    for proto, port in (("icmp", None), ("udp", 7), ("tcp", 80)):
        unreachable = send(routed.u, Probe(proto, "10.90.0.1", port))
        assert (unreachable.result, unreachable.detail) == \
            ("blocked", f"ICMP host unreachable from {R}"), proto
    no_route = send(routed.u, Probe("icmp", "10.91.0.1"))
    assert (no_route.result, no_route.detail) == ("blocked", f"ICMP net unreachable from {R}")


def test_http_status_line(routed):
    assert send(routed.c, Probe("http", V, 8080)).detail == "HTTP/1.1 200 OK"   # busybox
    assert send(routed.c, Probe("http", V, 8080, status=200)).result == "ok"
    missing = send(routed.c, Probe("http", V, 8080, status=200, path="/missing"))
    assert (missing.result, missing.detail) == \
        ("refused", "HTTP/1.1 404 Not Found (wanted 200)")
    assert send(routed.c, Probe("http", V, 8080, status=404, path="/missing")).result == "ok"
    assert send(routed.c, Probe("http", V, 8081)).result == "refused"
    not_http = send(routed.c, Probe("http", V, 7, timeout=QUICK))   # no TCP server on 7
    assert not_http.result == "refused"


def test_bytes_to_a_sink(routed):
    out = send(routed.c, Probe("tcp", V, 9000, nbytes=1 << 20, sink_netns=routed.v,
                               via=((routed.r, "eth1"),)))
    assert out.result == "ok" and out.detail.startswith("1048576 bytes in ")
    assert out.seen_via == (True,)
    blocked = send(routed.c, Probe("tcp", V, 9001, nbytes=1000, sink_netns=routed.v,
                                   timeout=QUICK))
    assert blocked.result == "blocked"
    # the sink is gone with the probe: the port is free again in v
    again = send(routed.c, Probe("tcp", V, 9000, nbytes=10, sink_netns=routed.v))
    assert again.result == "ok"
    assert send(routed.c, Probe("tcp", V, 9000)).result == "refused"


def test_via_seen_on_the_path_only(routed):
    via = ((routed.seg, "pc"), (routed.seg, "pr"), (routed.r, "eth1"), (routed.v, "lo"))
    for proto, port in (("icmp", None), ("tcp", 80), ("udp", 7), ("http", 8080)):
        out = send(routed.c, Probe(proto, V, port, via=via))
        assert out.result == "ok", (proto, out)
        assert out.seen_via == (True, True, True, False), proto
    # to the router itself: never crosses the router's far side
    near = send(routed.c, Probe("icmp", R, via=((routed.seg, "pr"), (routed.r, "eth1"))))
    assert near.seen_via == (True, False)
    # a probe dropped at the router was still seen reaching it
    dropped = send(routed.c, Probe("tcp", V, 81, timeout=QUICK,
                                   via=((routed.seg, "pr"), (routed.r, "eth1"))))
    assert (dropped.result, dropped.seen_via) == ("blocked", (True, False))


def test_bad_probes_are_refused_before_sending(routed):
    with pytest.raises(InvalidArgument, match="needs a port"):
        Probe("tcp", V)
    with pytest.raises(InvalidArgument, match="not an IPv4 address"):
        Probe("icmp", "b@cnet")
    with pytest.raises(NotFound, match="does not exist"):
        send("fabric-no-such-ns", Probe("icmp", V))
    with pytest.raises(NotFound, match="via eth9"):
        send(routed.c, Probe("icmp", V, via=((routed.r, "eth9"),)))


def test_parallel_probes_leave_nothing_behind(routed):
    send(routed.c, Probe("icmp", V))            # warm up: imports, neighbours
    fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
    cases = [(Probe("icmp", V), "ok"), (Probe("tcp", V, 80), "ok"),
             (Probe("udp", V, 7), "ok"), (Probe("http", V, 8080), "ok"),
             (Probe("tcp", V, 7999), "refused"), (Probe("udp", V, 9), "refused"),
             (Probe("tcp", V, 81, timeout=QUICK), "blocked"),
             (Probe("icmp", "10.89.0.3"), "blocked")] * 8
    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda case: send(routed.c, case[0]).result, cases))
    assert got == [want for _, want in cases]
    assert time.monotonic() - t0 < 3
    assert len(os.listdir("/proc/self/fd")) == fds
    assert threading.active_count() == threads
    # no TIME_WAIT or other socket of ours left in the source namespace
    assert in_ns(routed.c, "ss", "-Htan").stdout.strip() == ""
