"""A small routed lab for prober tests:

    c 10.88.0.1 ──┐
    u 10.88.0.3 ──[seg: br0, ports pc, pu, pr]── 10.88.0.254 r 10.89.0.254 ── 10.89.0.2 v

u is a second client for the probes that r answers from its routing table (an
unreachable route, no route): the kernel rate-limits those per source address with a
budget that any other ICMP error sent to that source empties for a second.

r forwards and holds the firewall rules and routes that make each kind of answer; v
runs the servers (TCP 80 and 7000-range ports chosen by tests, UDP echo on 7, busybox
httpd on 8080)."""

import os
from dataclasses import dataclass

import pytest

from probe.topo import Topo, in_ns, ip, nft

R_RULES = """
table inet fabric_test {
    chain forward {
        type filter hook forward priority 0; policy accept;
        tcp dport 81 drop
        udp dport 10 drop
        tcp dport 82 reject
        tcp dport 83 reject with icmp type admin-prohibited
        ip daddr 10.89.0.3 reject with icmp type admin-prohibited
        tcp dport 9001 drop
    }
}
"""


@dataclass
class Routed:
    topo: Topo
    c: str
    u: str
    seg: str
    r: str
    v: str
    V = "10.89.0.2"
    R = "10.88.0.254"


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    topo = Topo()
    try:
        c, u, seg, r, v = (topo.ns(role) for role in ("c", "u", "seg", "r", "v"))
        topo.bridge(seg)
        topo.port(seg, c, "eth0", "pc", "10.88.0.1/24")
        topo.port(seg, u, "eth0", "pu", "10.88.0.3/24")
        ip("-n", u, "route", "add", "default", "via", "10.88.0.254")
        topo.port(seg, r, "eth0", "pr", "10.88.0.254/24")
        topo.veth(r, "eth1", v, "eth0", "10.89.0.254/24")
        ip("-n", v, "addr", "add", "10.89.0.2/24", "dev", "eth0")
        ip("-n", c, "route", "add", "default", "via", "10.88.0.254")
        ip("-n", v, "route", "add", "default", "via", "10.89.0.254")
        in_ns(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ip("-n", r, "route", "add", "unreachable", "10.90.0.0/24")
        nft(r, R_RULES)
        topo.servers.tcp(v, 80)
        topo.servers.udp(v, 7)
        www = tmp_path_factory.mktemp("www")
        (www / "index.html").write_text("hello\n")
        os.chmod(www, 0o755)
        topo.spawn(v, "busybox", "httpd", "-f", "-p", "8080", "-h", str(www))
        yield Routed(topo, c, u, seg, r, v)
    finally:
        topo.close()
