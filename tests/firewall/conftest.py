"""Fixtures for firewall tests: a lab of namespaces, the backend under test applied in
its host namespace, servers in every container. Everything goes at teardown, even
after a failure; the machine's own namespace is never touched, which the session
checks at the end."""

import os
import secrets
import subprocess

import pytest

from fabric.firewall.backend import get_backend

from .topo import Topo
from .traffic import Servers

if os.geteuid() != 0:
    pytest.skip("firewall tests need root (namespaces, nftables)", allow_module_level=True)


def _root_ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True,
                          check=False).stdout


@pytest.fixture(scope="session", autouse=True)
def root_namespace_untouched():
    """No test may put anything into the machine's own namespace's firewall. Other
    software may change that ruleset meanwhile (a fabric daemon for the host `local`,
    Docker), so what is checked is that nothing there names this suite's interfaces or
    addresses, which any rule or element of ours would."""
    yield
    ruleset = _root_ruleset()
    for prefix in ('"fwb', '"fwv', '"fwu', "198.51.100.", "10.231.", "10.232.", "10.233."):
        assert prefix not in ruleset


@pytest.fixture
def uid() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def topo(uid):
    t = Topo(uid)
    try:
        yield t
    finally:
        t.destroy()


@pytest.fixture
def servers():
    s = Servers()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=["nftables", "iptables"])
def backend_name(request) -> str:
    return request.param


def make_lab(topo: Topo, servers: Servers, br_netfilter: bool = True, icc: bool = True):
    """One icc network `a` with c1..c4, a second network `b` with c5, the uplink, and
    TCP 80/81 + UDP 53 servers in every container and on the outside."""
    if not topo.host:  # a fixture may have made the host already (dockerd's)
        topo.build_host(br_netfilter)
    topo.add_net("a", "10.231.1.0/24", icc=icc)
    topo.add_net("b", "10.231.2.0/24")
    for i, name in enumerate(("c1", "c2", "c3", "c4"), start=11):
        topo.add_ctr(name, "a", i)
    topo.add_ctr("c5", "b", 15)
    for c in topo.ctrs.values():
        servers.tcp(c.ns, 80)
        servers.tcp(c.ns, 81)
        servers.udp(c.ns, 53)
    servers.tcp(topo.outside, 9000)
    servers.udp(topo.outside, 9053)
    return topo


@pytest.fixture
def applied(topo):
    """apply(intent, name="nftables") into the lab's host namespace; cleared after."""
    used = []

    def apply(intent, name: str = "nftables", **opts):
        b = get_backend(name, netns=topo.host, **opts)
        used.append(b)
        b.apply(intent)
        return b

    yield apply
    for b in used:
        if topo.host in topo.made:
            b.clear()


@pytest.fixture
def make_scratch(topo):
    """Extra empty namespaces, removed with the lab."""
    count = [0]

    def make() -> str:
        count[0] += 1
        return topo._ns(f"s{count[0]}")
    return make
