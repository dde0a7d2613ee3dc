"""The expectation runner: retries until `within`, blocked checks after the positive
ones and 3 in a row, wrong expectations fail, probes that cannot be made are errors."""

import threading
import time

import pytest
from probe.topo import nft

from fabric.errors import InvalidArgument
from fabric.lab import expect
from fabric.lab.expect import Check
from fabric.probe import Outcome, Probe

B = "10.66.0.2"


def check(seg, probe: Probe, want: str, within: float = 3.0, **kw) -> Check:
    return Check("a", "b", seg.a, probe, want, within, **kw)


def test_positive_check_retries_until_a_late_listener(segment):
    late = threading.Timer(0.6, segment.topo.servers.tcp, (segment.b, 7100))
    late.start()
    try:
        [res] = expect.run([check(segment, Probe("tcp", B, 7100, timeout=0.3), "ok")])
    finally:
        late.join()
    assert res.passed and res.outcome.result == "ok"
    assert res.tries > 2
    assert res.converged is not None and 0.5 < res.converged < 2.0


def test_wrong_expectations_fail(segment):
    results = expect.run([
        check(segment, Probe("icmp", B), "blocked", within=0.5),
        check(segment, Probe("tcp", B, 7101), "ok", within=0.5),
        check(segment, Probe("icmp", B, via=((segment.seg, "pa"),)), "ok", within=0.3),
    ])
    assert [(r.passed, r.outcome.result, r.converged) for r in results] == \
        [(False, "ok", None), (False, "refused", None), (True, "ok", 0.0)]
    # the positive check kept trying for its whole `within`
    assert results[1].tries > 2 and results[1].elapsed >= 0.4


def test_via_not_crossed_fails_a_check_whose_result_matched(segment):
    [res] = expect.run([check(segment, Probe("icmp", B, via=((segment.a, "lo"),)), "ok",
                              within=0.3, via=("a:lo",))])
    assert (res.passed, res.outcome.result, res.outcome.seen_via) == (False, "ok", (False,))


def test_blocked_holds_three_tries_in_a_row(segment):
    nft(segment.b, "table inet fabric_test {\n chain input {\n type filter hook input "
                   "priority 0;\n udp dport 7200 drop\n }\n}\n")
    [res] = expect.run([check(segment, Probe("udp", B, 7200, timeout=0.2), "blocked")])
    assert (res.passed, res.tries, res.converged) == (True, 3, 0.0)
    assert res.elapsed >= 0.6


def scripted(results: list[str], log: list | None = None):
    """A sender answering each try with the next result of the list (the last one
    repeats), recording (time, check proto, result) in `log`."""
    lock = threading.Lock()
    left = {}

    def sender(ns: str, probe: Probe) -> Outcome:
        with lock:
            queue = left.setdefault(probe, list(results))
            result = queue.pop(0) if len(queue) > 1 else queue[0]
            if log is not None:
                log.append((time.monotonic(), probe.proto, result))
        return Outcome(result, "scripted", 0.0)
    return sender


def test_a_blocked_streak_starts_over_when_something_answers():
    c = Check("a", "b", "ns", Probe("icmp", "10.0.0.1"), "blocked", within=5)
    [res] = expect.run([c], sender=scripted(["blocked", "ok", "blocked", "blocked",
                                             "blocked", "ok"]))
    assert (res.passed, res.tries) == (True, 5)
    # it held from the third try on, two spaced tries after the first
    assert res.converged == pytest.approx(2 * expect.BLOCKED_SPACING, abs=0.1)


def test_blocked_checks_run_after_positive_ones_settle():
    log: list = []
    checks = [Check("a", "b", "ns", Probe("icmp", "10.0.0.1"), "blocked", within=2),
              Check("a", "c", "ns", Probe("udp", "10.0.0.2", 53), "ok", within=2)]
    # the positive check converges on its fourth try; the blocked one holds at once
    late_ok = scripted(["refused", "refused", "refused", "ok"], log)
    blocked = scripted(["blocked"], log)
    seen: list = []
    results = expect.run(checks, progress=seen.append,
                         sender=lambda ns, p: (late_ok if p.proto == "udp" else blocked)(ns, p))
    udp_times = [t for t, proto, _ in log if proto == "udp"]
    icmp_times = [t for t, proto, _ in log if proto == "icmp"]
    assert len(udp_times) == 4 and len(icmp_times) == 3
    assert max(udp_times) < min(icmp_times)
    assert [r.check.dst for r in seen] == ["c", "b"]      # as each settled
    assert [r.check.dst for r in results] == ["b", "c"]   # in the checks' order
    assert all(r.passed for r in results)


def test_a_probe_that_cannot_be_made_is_an_error():
    [res] = expect.run([Check("a", "b", "fabric-no-such-ns", Probe("icmp", "10.0.0.1"),
                              "ok", within=5)])
    assert (res.passed, res.outcome.result, res.tries) == (False, "error", 1)
    assert "does not exist" in res.outcome.detail


def test_bad_checks_are_refused():
    with pytest.raises(InvalidArgument, match="expect must be one of"):
        Check("a", "b", "ns", Probe("icmp", "10.0.0.1"), "reachable")


def test_bytes_get_the_whole_within(segment):
    probe = Probe("tcp", B, 7300, nbytes=4 << 20, sink_netns=segment.b, timeout=0.001)
    [res] = expect.run([check(segment, probe, "ok", within=10)])
    assert res.passed and res.tries == 1, res.outcome
