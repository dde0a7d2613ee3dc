"""`fabric trace` on one host with the bridge driver and the nftables backend: every
hop asserted as a user reads it (the bridge port and FDB entry, the routes, NAT, each
verdict in fabric's words), and nothing left behind.

One host for the module: labnet (icc=false) with a, b and web (published 8080:80);
opennet (icc=true) with c and d; the default bridge with icc=false (the host's
setting) with srv and cli linked to it (--link srv:db).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tracehelp import Host, hops, one, trace_tables

from fabric.trace.model import STAGES


@pytest.fixture(scope="module")
def h():
    host = Host({"icc": False})
    try:
        host.fab("network", "create", "-o", "icc=false", "--subnet", "10.77.0.0/24", "labnet")
        host.fab("network", "create", "--subnet", "10.78.0.0/24", "opennet")
        for name in ("a", "b"):
            host.run(name, "--network", "labnet", "busybox", "sleep", "1d")
        host.run("web", "--network", "labnet", "-p", "8080:80", "busybox", "httpd", "-f",
                 "-p", "80")
        host.run("c", "--network", "opennet", "busybox", "sleep", "1d")
        host.run("d", "--network", "opennet", "busybox", "httpd", "-f", "-p", "80")
        host.run("srv", "--expose", "80", "busybox", "httpd", "-f", "-p", "80")
        host.run("cli", "--link", "srv:db", "busybox", "sleep", "1d")
        yield host
    finally:
        host.close()


def address(h, name: str) -> str:
    doc = json.loads(h.fab("inspect", name).stdout)[0]
    return next(iter(doc["NetworkSettings"]["Networks"].values()))["IPAddress"]


def test_icc_on_delivers_and_answers_with_each_hop(h):
    doc = h.trace("c", "d")
    assert doc["result"] == "ok" and doc["verdict"].startswith("ok: echo reply"), doc["verdict"]
    sent = one(doc, "route", namespace="c", verdict="send")
    assert sent["interface"] == "eth0" and "10.78.0.0/24 dev eth0" in sent["rule"]
    br = one(doc, "bridge", namespace="host", verdict="forward")
    assert "(c) ->" in br["interface"] and br["interface"].endswith("(d)")
    assert br["rule"].startswith(f"fdb {mac(h, 'd')} dev ") and "master fab-" in br["rule"]
    one(doc, "filter", reason="icc=true on network opennet", verdict="accept")
    one(doc, "route", namespace="d", verdict="deliver", reason="delivered to d")
    one(doc, "route", "reply", namespace="c", verdict="deliver", reason="delivered to c")
    # in order: made in c, through the host, delivered in d
    order = [x["namespace"] for x in hops(doc)]
    assert order.index("c") < order.index("host") < order.index("d")


def mac(h, name: str) -> str:
    doc = json.loads(h.fab("inspect", name).stdout)[0]
    return next(iter(doc["NetworkSettings"]["Networks"].values()))["MacAddress"]


def test_icc_off_dies_naming_the_network_and_the_containers(h):
    doc = h.trace("a", "b")
    why = "dropped: icc=false on network labnet; containers a and b are not linked"
    assert doc["result"] == "blocked" and doc["verdict"] == why
    last = hops(doc)[-1]
    assert (last["stage"], last["verdict"], last["reason"]) == ("filter", "drop", why)
    assert last["host"] and last["namespace"] == "host"
    assert "icc rule" in last["rule"] and last["interface"].count("->") == 1
    assert not hops(doc, direction="reply")
    assert all(x["namespace"] != "b" for x in doc["hops"])


def test_a_link_lets_its_port_through_and_nothing_else(h):
    doc = h.trace("cli", "srv", "--proto", "tcp", "--port", "80")
    assert doc["result"] == "ok", doc["verdict"]
    one(doc, "filter", reason="allowed: cli -> srv tcp/80 allowed by link srv:db",
        verdict="accept")
    one(doc, "route", namespace="srv", verdict="deliver")
    one(doc, "route", "reply", namespace="cli", verdict="deliver")
    doc = h.trace("cli", "srv", "--proto", "tcp", "--port", "81")
    assert doc["verdict"] == ("dropped: icc=false on network bridge; tcp/81 is not what their "
                              "link lets through (cli -> srv tcp/80 allowed by link srv:db)")


def test_a_published_port_is_dnated_and_hairpinned_and_translated_back(h):
    gw = h.fab("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
               "labnet").stdout.strip()
    web = address(h, "web")
    doc = h.trace("a", "host", "--proto", "tcp", "--port", "8080")
    assert doc["result"] == "ok", doc["verdict"]
    dnat = one(doc, "nat", verdict="dnat")
    assert f"DNAT {gw}:8080 -> {web}:80" in dnat["rule"]
    assert dnat["reason"] == "DNAT: published port 0.0.0.0:8080 -> web:80/tcp (DNAT)"
    snat = one(doc, "nat", verdict="snat")
    assert snat["reason"].startswith("hairpin: a reaching published port 0.0.0.0:8080") \
        and f"-> {gw}:" in snat["rule"]
    one(doc, "route", namespace="web", verdict="deliver", reason="delivered to web")
    back = [x for x in hops(doc, "nat", "reply")]
    assert {x["verdict"] for x in back} == {"dnat", "snat"}
    assert all("by conntrack" in x["rule"] for x in back)
    one(doc, "route", "reply", namespace="a", verdict="deliver")

    # a container reaching its own published port: out of its port and back into it
    doc = h.trace("web", "host", "--proto", "tcp", "--port", "8080")
    assert doc["result"] == "ok", doc["verdict"]
    src, dst = one(doc, "bridge", namespace="host", verdict="forward")["interface"].split(" -> ")
    assert src == dst and src.endswith("(web)")
    one(doc, "nat", verdict="snat", reason="hairpin")
    one(doc, "route", namespace="web", verdict="deliver")


def test_a_user_rule_drop_names_the_rule(h):
    c, d = address(h, "c"), address(h, "d")
    rid = h.fab("firewall", "add", "-s", c, "-p", "tcp", "--dport", "80", "-j",
                "DROP").stdout.strip()
    try:
        doc = h.trace("c", "d", "--proto", "tcp", "--port", "80")
    finally:
        h.fab("firewall", "rm", rid)
    why = (f"dropped by user rule 1 ({rid}): drop tcp/80 from c ({c}) to anywhere, before "
           "fabric's own rules")
    assert doc["verdict"] == why
    last = hops(doc)[-1]
    assert last["verdict"] == "drop" and f"fabric-rule:{rid}" in last["rule"]
    assert h.trace("c", "d", "--proto", "tcp", "--port", "80")["result"] == "ok", d


def test_json_hops_carry_every_field(h):
    doc = h.trace("a", "host", "--proto", "tcp", "--port", "8080")
    keys = {"host", "namespace", "interface", "stage", "verdict", "rule", "reason"}
    assert doc["hops"] and all(keys <= set(x) for x in doc["hops"])
    assert {x["stage"] for x in doc["hops"]} <= set(STAGES)
    text = h.fab("trace", "a", "b", "--timeout", "0.3").stdout
    assert text.splitlines()[-1] == ("dropped: icc=false on network labnet; containers a "
                                     "and b are not linked")
    assert "fdb " in text and "made by a" in text


def namespaces(h) -> list[str | None]:
    keys = [json.loads(h.fab("inspect", n).stdout)[0]["NetworkSettings"]["SandboxKey"]
            for n in ("a", "b", "web", "c", "d", "srv", "cli")]
    return [h.netns, *keys]


def probe_conntrack(netns: str) -> list:
    """The host's conntrack entries of trace probes (source ports 61000 and up)."""
    from pyroute2 import Conntrack

    from fabric.net import nsexec

    def dump() -> list:
        ct = Conntrack()
        try:
            return [e.tuple_orig for e in ct.dump_entries()
                    if (e.tuple_orig.sport or 0) >= 61000]
        finally:
            ct.close()
    return nsexec.run(netns, dump)


def test_nothing_is_left_behind_even_when_the_caller_or_the_daemon_dies(h):
    every = namespaces(h)
    h.trace("a", "host", "--proto", "tcp", "--port", "8080")
    assert all(trace_tables(ns) == [] for ns in every)
    assert probe_conntrack(h.netns) == []
    daemon = h.host.daemon_pid()
    assert daemon is not None
    kids = subprocess.run(["ps", "--ppid", str(daemon), "-o", "comm="], capture_output=True,
                          text=True).stdout.split()
    assert "nft" not in kids, kids

    # armed, and the caller never comes back: the trace ends by itself
    api = [sys.executable, "-c", ARM, h.host.socket]
    sid = subprocess.run(api + ["1"], capture_output=True, text=True, check=True).stdout
    assert sid.strip() and trace_tables(h.netns) != []
    assert gone(every, within=5)

    # armed, and the daemon is killed: the tables were its sockets', the kernel took them
    subprocess.run(api + ["30"], capture_output=True, text=True, check=True)
    assert trace_tables(h.netns) != []
    os.kill(daemon, signal.SIGKILL)
    assert gone(every, within=5)
    h.fab("ps")         # a new daemon for the tests after this one


def gone(namespaces: list, within: float) -> bool:
    deadline = time.monotonic() + within
    while any(trace_tables(ns) for ns in namespaces):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


ARM = """
import sys
from fabric.client.http import Client
doc = Client(sys.argv[1]).call("POST", "/fabric/trace", body={
    "match": {"proto": "icmp", "ident": 4242}, "host": "t", "seconds": float(sys.argv[2])})
print(doc["Id"])
"""


def test_the_trace_command_imports_no_kernel_library(h, tmp_path):
    report = tmp_path / "modules.json"
    code = ("import json, sys\nfrom fabric.cli.main import cli\n"
            "try:\n    cli.main(args=sys.argv[1:], prog_name='fabric', standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            f"json.dump(sorted(sys.modules), open({str(report)!r}, 'w'))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    env.update(FABRIC_HOSTS_DIR=os.environ["FABRIC_HOSTS_DIR"], FABRIC_HOST=h.tag)
    p = subprocess.run([sys.executable, "-P", "-c", code, "trace", "c", "d"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert "ok: echo reply" in p.stdout, p.stdout + p.stderr
    modules = json.loads(report.read_text())
    bad = [m for m in modules if m.split(".")[0] in ("pyroute2", "nftables", "scapy")
           or m.startswith(("fabric.daemon", "fabric.engine"))]
    assert bad == []
