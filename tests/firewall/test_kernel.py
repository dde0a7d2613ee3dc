"""Both backends against a real kernel, in throwaway namespaces, without traffic:
atomic replacement, element-only changes, clear, drift, describe."""

import json
import socket
import subprocess

import pytest

from fabric.firewall.backend import get_backend
from fabric.firewall.intent import FirewallIntent, LinkIntent, PortIntent, UserRule
from fabric.firewall.listening import port_in_use
from fabric.net import nsexec

from .topo import run, sysctl
from .traffic import sock


@pytest.fixture
def lab(topo):
    topo.build_host(br_netfilter=True)
    topo.add_net("a", "10.232.1.0/24", icc=False)
    topo.add_net("b", "10.232.2.0/24", internal=True)
    topo.add_ctr("c1", "a", 11)
    topo.add_ctr("c2", "a", 12)
    return topo


def full(t, **kw) -> FirewallIntent:
    a = t.nets["a"]
    return t.intent(
        links=(LinkIntent(a.id, t.ctrs["c1"].ip, t.ctrs["c2"].ip, (("tcp", 80, 80),)),),
        ports=(PortIntent("ctr-c2", a.id, "tcp", "0.0.0.0", 8080, 8080, t.ctrs["c2"].ip, 80, 80),),
        **kw)


def nft_list(ns: str) -> str:
    # stateless: without the counters' values, which traffic moves
    return run(ns, "nft", "-s", "list", "ruleset").stdout


def handles(ns: str) -> list:
    out = json.loads(run(ns, "nft", "-j", "list", "tables").stdout)["nftables"]
    return [(o["table"]["family"], o["table"]["name"], o["table"]["handle"])
            for o in out if "table" in o]


def test_describe_is_what_apply_does(lab, applied, make_scratch):
    """The printed `nft -f` script, run by hand in another namespace, builds the very
    ruleset the JSON batch built."""
    intent = full(lab, user_rules=(UserRule("r1", "reject", dst="10.232.1.12", proto="tcp",
                                            dport=81, comment="no 81"),))
    applied(intent)
    scratch = make_scratch()
    cmds = get_backend("nftables", netns=scratch).describe(intent)
    script = cmds[0]
    assert script.startswith(f"ip netns exec {scratch} nft -f - <<'EOF'\n")
    body = script.split("\n", 1)[1].rsplit("EOF", 1)[0]
    p = subprocess.run(["ip", "netns", "exec", scratch, "nft", "-f", "-"], input=body,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert nft_list(scratch) == nft_list(lab.host)
    assert f"sysctl -w net.ipv4.conf.{lab.nets['a'].bridge}.route_localnet=1" in cmds[1]


def test_one_more_link_changes_elements_only(lab, applied):
    intent = full(lab)
    b = applied(intent)
    before = handles(lab.host)
    c1, c2 = lab.ctrs["c1"], lab.ctrs["c2"]
    more = FirewallIntent(**{**intent.__dict__, "links": intent.links + (
        LinkIntent(lab.nets["a"].id, c2.ip, c1.ip, (("udp", 53, 53),)),)})
    b.apply(more)
    assert handles(lab.host) == before  # same tables: not replaced
    assert f"{c2.ip} . {c1.ip} . udp . 53" in nft_list(lab.host)
    assert b.drift(more) == []
    b.apply(intent)
    assert f"{c2.ip} . {c1.ip} . udp . 53" not in nft_list(lab.host)
    assert b.drift(intent) == []


def test_user_rule_change_replaces_the_tables(lab, applied):
    intent = full(lab)
    b = applied(intent)
    before = handles(lab.host)
    b.apply(full(lab, user_rules=(UserRule("r1", "drop", src="10.232.1.11"),)))
    assert handles(lab.host) != before
    assert 'ip saddr 10.232.1.11 counter drop comment "fabric-rule:r1"' in nft_list(lab.host)


def test_a_flushed_table_is_rebuilt_not_patched(lab, applied):
    intent = full(lab)
    b = applied(intent)
    run(lab.host, "nft", "flush", "table", "inet", "fabric")  # someone "cleans up"
    assert b.drift(intent)  # seen by doctor
    b.apply(FirewallIntent(**{**intent.__dict__, "links": ()}))  # delta refused: full
    assert b.drift(FirewallIntent(**{**intent.__dict__, "links": ()})) == []
    run(lab.host, "nft", "delete", "element", "bridge", "fabric", "ports",
        "{", f'"{lab.ctrs["c1"].host_if}"', "}")
    assert b.drift(intent) == ["bridge fabric ports: 1 element(s) missing",
                               "bridge fabric links: 1 element(s) missing",
                               "inet fabric links: 1 element(s) missing"]
    b.apply(intent, force=True)
    assert b.drift(intent) == []


def test_clear_is_complete_and_idempotent(lab, applied):
    br = lab.nets["a"].bridge
    other = lab.nets["b"].bridge
    sysctl(lab.host, f"net/ipv4/conf/{br}/route_localnet", "0")
    sysctl(lab.host, f"net/ipv4/conf/{other}/route_localnet", "1")  # someone else's
    run(lab.host, "nft", "add", "table", "inet", "theirs")
    b = applied(full(lab))
    assert b.current().localnet == [br]
    assert _sysctl(lab.host, br) == "1"
    st = b.current()
    assert st.present and st.objects == ["table bridge fabric", "table inet fabric"]
    assert st.elements["bridge port_ip"] == 2
    b.clear()
    b.clear()
    assert "fabric" not in run(lab.host, "nft", "list", "tables").stdout
    assert "table inet theirs" in run(lab.host, "nft", "list", "tables").stdout
    assert _sysctl(lab.host, br) == "0"      # fabric's own change undone
    assert _sysctl(lab.host, other) == "1"   # not fabric's to undo
    assert not b.current().present


def test_disabled_firewall_removes_everything(lab, applied):
    b = applied(full(lab))
    b.apply(FirewallIntent(enabled=False))
    assert "fabric" not in run(lab.host, "nft", "list", "tables").stdout


def test_ports_leaving_switch_route_localnet_back(lab, applied):
    br = lab.nets["a"].bridge
    sysctl(lab.host, f"net/ipv4/conf/{br}/route_localnet", "0")
    b = applied(full(lab))
    assert _sysctl(lab.host, br) == "1"
    b.apply(FirewallIntent(**{**full(lab).__dict__, "ports": ()}))
    assert _sysctl(lab.host, br) == "0"


def test_iptables_backend_round_trip(lab, applied):
    intent = full(lab)
    b = applied(intent, "iptables")
    out = run(lab.host, "iptables", "-L", "-n").stdout
    for chain in ("FABRIC-FORWARD", "FABRIC-USER", "FABRIC-ISOLATION-STAGE-1",
                  "FABRIC-ISOLATION-STAGE-2", "FABRIC"):
        assert f"Chain {chain} " in out
    assert b.drift(intent) == []
    b.apply(intent)  # again: jumps are not duplicated
    assert run(lab.host, "iptables", "-S", "FORWARD").stdout.count("FABRIC-FORWARD") == 1
    b.clear()
    b.clear()
    assert "FABRIC" not in run(lab.host, "iptables-save").stdout


def test_iptables_describe_is_runnable(lab, applied, make_scratch):
    intent = full(lab)
    applied(intent, "iptables")
    scratch = make_scratch()
    cmd = get_backend("iptables", netns=scratch).describe(intent)[-1]
    body = cmd.split("\n", 1)[1].rsplit("EOF", 1)[0]
    p = subprocess.run(["ip", "netns", "exec", scratch, "iptables-restore", "--noflush"],
                       input=body, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    def saved(ns: str) -> list[str]:
        return [ln for ln in run(ns, "iptables-save").stdout.splitlines()
                if not ln.startswith("#")]
    assert saved(scratch) == saved(lab.host)


def test_port_in_use_sees_other_programs(lab):
    tcp = sock(lab.host)
    tcp.bind(("127.0.0.1", 18080))
    tcp.listen()
    udp = sock(lab.host, kind=socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 15353))
    v6 = sock(lab.host, family=socket.AF_INET6)
    v6.bind(("::", 18081))
    v6.listen()
    try:
        assert port_in_use("tcp", "127.0.0.1", 18080, lab.host)
        assert port_in_use("tcp", "0.0.0.0", 18080, lab.host)
        assert not port_in_use("tcp", "198.51.100.1", 18080, lab.host)
        assert port_in_use("udp", "198.51.100.1", 15353, lab.host)
        assert not port_in_use("tcp", "0.0.0.0", 15353, lab.host)
        assert port_in_use("tcp", "198.51.100.1", 18081, lab.host)
        assert not port_in_use("tcp", "0.0.0.0", 18082, lab.host)
    finally:
        tcp.close()
        udp.close()
        v6.close()


def _sysctl(ns: str, bridge: str) -> str:
    def read():
        with open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet") as f:
            return f.read().strip()
    return nsexec.run(ns, read)
