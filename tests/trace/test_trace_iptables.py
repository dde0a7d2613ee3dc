"""`fabric trace` on a host whose firewall is the iptables backend (Docker's chain
names): Debian's iptables is iptables-nft, so its chains report through the same
kernel tracing, and the hops name the iptables rules as `iptables-save` prints them."""

import pytest
from tracehelp import Host, hops, one


@pytest.fixture(scope="module")
def h():
    host = Host({"firewall-backend": "iptables"})
    try:
        host.fab("network", "create", "-o", "icc=false", "--subnet", "10.79.0.0/24", "labnet")
        host.run("a", "--network", "labnet", "busybox", "sleep", "1d")
        host.run("b", "--network", "labnet", "busybox", "sleep", "1d")
        host.run("web", "--network", "labnet", "-p", "8080:80", "busybox", "httpd", "-f",
                 "-p", "80")
        yield host
    finally:
        host.close()


def test_icc_off_dies_in_fabric_s_forward_chain_named_as_iptables_has_it(h):
    doc = h.trace("a", "b")
    why = "dropped: icc=false on network labnet; containers a and b are not linked"
    assert doc["verdict"] == why
    last = hops(doc)[-1]
    assert last["table"] == "ip filter FORWARD" and last["verdict"] == "drop"
    assert last["rule"].startswith("FABRIC-FORWARD rule ") and " -j DROP" in last["rule"]
    assert "-A FABRIC-FORWARD -i fab-" in last["rule"] and last["reason"] == why


def test_a_published_port_through_iptables_nat(h):
    doc = h.trace("a", "host", "--proto", "tcp", "--port", "8080")
    assert doc["result"] == "ok", doc["verdict"]
    dnat = one(doc, "nat", verdict="dnat", table="ip nat PREROUTING")
    assert "-j DNAT --to-destination 10.79.0.4:80" in dnat["rule"]
    assert dnat["reason"] == "DNAT: published port 0.0.0.0:8080 -> web:80/tcp (DNAT)"
    one(doc, "filter", table="ip filter FORWARD", verdict="accept",
        reason="allowed: published port 0.0.0.0:8080 -> web:80/tcp")
    one(doc, "nat", verdict="snat", table="ip nat POSTROUTING", reason="hairpin")
    one(doc, "route", namespace="web", verdict="deliver")
    one(doc, "filter", "reply", reason="allowed: a reply (")
