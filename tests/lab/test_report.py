"""Reports of the expectation runner: the matrix people read, JSON, JUnit XML."""

import json
import xml.etree.ElementTree as ET

from fabric.lab import report
from fabric.lab.expect import Check, CheckResult
from fabric.probe import Outcome, Probe


def result(src, dst, probe, expect, got, detail="", converged=None, seen=(), via=()):
    c = Check(src, dst, f"ns-{src}", probe, expect, 10.0, via=via)
    passed = got == expect and all(seen)
    return CheckResult(c, Outcome(got, detail, 0.001, seen), passed,
                       converged if passed else None, tries=3, elapsed=1.25)


ICMP = Probe("icmp", "10.0.0.2")
VIA = Probe("http", "10.40.1.2", 80, via=(("fab-h1", "eth0"),))
RESULTS = [
    result("a", "b", ICMP, "ok", "ok", "echo reply in 0.1 ms", converged=0.0),
    result("a", "c", Probe("tcp", "10.0.0.3", 80), "blocked", "ok", "handshake in 0.2 ms"),
    result("b", "a", Probe("tcp", "10.0.0.1", 80), "ok", "ok", "handshake", converged=1.234),
    result("b", "a", ICMP, "ok", "refused", "ICMP port unreachable from 10.0.0.1"),
    result("h1", "b@cnet", VIA, "ok", "ok", "HTTP/1.0 200 OK", seen=(False,),
           via=("h1:eth0",)),
]


def test_matrix_upper_cases_what_was_not_expected():
    assert report.matrix(RESULTS) == """\
from \\ to  a                             b             c          b@cnet
a          -                             icmp ok 0.0s  tcp/80 OK  -
b          tcp/80 ok 1.2s, icmp REFUSED  -             -          -
h1         -                             -             -          http/80 OK

FAILED a -> c tcp/80: expected blocked, got ok: handshake in 0.2 ms
FAILED b -> a icmp: expected ok, got refused: ICMP port unreachable from 10.0.0.1
FAILED h1 -> b@cnet http/80: ok (HTTP/1.0 200 OK), but its packets were not seen on h1:eth0
5 checks, 2 passed, 3 failed; slowest to converge: b -> a tcp/80 in 1.2 s
"""


def test_matrix_of_one_protocol_leaves_the_protocol_out():
    pingall = [result(s, d, ICMP, "ok", "ok" if d != "c" else "blocked", converged=0.0)
               for s in "ab" for d in "abc" if s != d]
    assert report.matrix(pingall).splitlines()[:3] == [
        "from \\ to  a        b        c",
        "a          -        ok 0.0s  BLOCKED",
        "b          ok 0.0s  -        BLOCKED",
    ]


def test_json():
    doc = json.loads(report.as_json(RESULTS))
    assert (doc["passed"], doc["total"], doc["failed"]) == (False, 5, 3)
    first, last = doc["checks"][0], doc["checks"][-1]
    assert first == {"from": "a", "to": "b", "proto": "icmp", "port": None,
                     "address": "10.0.0.2", "expect": "ok", "result": "ok", "passed": True,
                     "converged": 0.0, "detail": "echo reply in 0.1 ms", "tries": 3,
                     "elapsed": 1.25, "via": []}
    assert last["via"] == [{"at": "h1:eth0", "seen": False}]


def test_junit_parses_and_counts_failures():
    errored = result("a", "z", ICMP, "ok", "error", "network namespace x does not exist")
    root = ET.fromstring(report.junit(RESULTS + [errored], "lab1"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"),
            suite.get("errors")) == ("lab1", "6", "3", "1")
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "a -> b icmp expect ok"
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected blocked, got ok: handshake in 0.2 ms"
    error = cases[5].find("error")
    assert error is not None and "does not exist" in (error.get("message") or "")


def test_no_checks():
    assert report.matrix([]) == "no checks\n"
    assert json.loads(report.as_json([]))["passed"] is True
