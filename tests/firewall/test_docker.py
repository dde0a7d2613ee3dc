"""Next to a real dockerd (optional: skipped when Docker is not installed).

dockerd runs inside the lab's host namespace, so its FORWARD DROP policy and
br_netfilter's detour through iptables hit fabric's bridges exactly as on a Docker
host, without touching the machine's own namespace.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from fabric.firewall.intent import PortIntent

from .conftest import make_lab
from .topo import UPLINK_HOST, UPLINK_OUT, run, sysctl
from .traffic import parallel, tcp

pytestmark = pytest.mark.skipif(shutil.which("dockerd") is None, reason="dockerd not installed")


def _saved(ns: str) -> list[str]:
    out = run(ns, "iptables-save").stdout
    return sorted(ln.split(" [")[0] for ln in out.splitlines() if not ln.startswith("#"))


@pytest.fixture
def dockerd(topo, uid):
    """Start dockerd in the lab's host namespace (with forwarding off before, so that
    Docker turns it on and sets FORWARD DROP, as on a fresh host); stop it after."""
    topo.build_host(br_netfilter=True)
    sysctl(topo.host, "net/ipv4/ip_forward", "0")
    root = f"/tmp/fwdk-{uid}"
    os.makedirs(root)
    # nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroups
    with open(f"{root}/log", "w") as log:
        proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{topo.host}", "dockerd", "--data-root",
             f"{root}/data", "--exec-root", f"{root}/exec", "-H", f"unix://{root}/docker.sock",
             "--pidfile", f"{root}/docker.pid", "--storage-driver", "vfs"],
            stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(200):
            if "-P FORWARD DROP" in run(topo.host, "iptables", "-S", "FORWARD").stdout and \
                    "DOCKER-USER" in run(topo.host, "iptables", "-S", "DOCKER-USER").stdout:
                break
            if proc.poll() is not None:
                with open(f"{root}/log") as log:
                    pytest.fail(f"dockerd exited: {log.read()[-500:]}")
            time.sleep(0.1)
        else:
            pytest.fail("dockerd did not set up its iptables rules")
        yield proc
    finally:
        _stop(proc.pid, proc)
        try:  # its managed containerd, by the pid it wrote, if it outlived dockerd
            with open(f"{root}/exec/containerd/containerd.pid") as f:
                _stop(int(f.read()), None)
        except (OSError, ValueError):
            pass
        shutil.rmtree(root, ignore_errors=True)


def _stop(pid: int, proc) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if proc is not None and proc.poll() is not None:
            return
        if proc is None and not os.path.exists(f"/proc/{pid}"):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait()


def test_fabric_works_beside_dockers_forward_drop(topo, servers, dockerd, applied):
    t = make_lab(topo, servers, br_netfilter=True)  # reuses the host dockerd lives in
    c = t.ctrs
    docker_rules = _saved(t.host)
    intent = t.intent(ports=(PortIntent("ctr-c3", t.nets["a"].id, "tcp", "0.0.0.0", 8080, 8080,
                                        c["c3"].ip, 80, 80),))
    probes = {
        "bridged": (tcp, c["c1"].ns, c["c2"].ip, 80),
        "outbound": (tcp, c["c1"].ns, UPLINK_OUT, 9000),
        "published": (tcp, t.outside, UPLINK_HOST, 8080),
        "hairpin": (tcp, c["c1"].ns, UPLINK_HOST, 8080),
    }

    # fabric's tables alone: Docker's policy drops even frames between two fabric
    # containers on one bridge (br_netfilter sends them through iptables' FORWARD)
    alone = applied(intent, docker_user=False)
    assert parallel(probes) == {k: None for k in probes}
    alone.clear()

    b = applied(intent)
    got = parallel(probes)
    assert got["bridged"] == c["c1"].ip and got["outbound"] == UPLINK_HOST
    assert got["published"] == UPLINK_OUT and got["hairpin"] == t.nets["a"].gateway
    # Docker's rules are all still there; fabric added exactly one, in DOCKER-USER
    added = set(_saved(t.host)) - set(docker_rules)
    assert len(added) == 1 and added.pop().startswith("-A DOCKER-USER -m mark --mark 0x100000")
    assert set(docker_rules) <= set(_saved(t.host))
    st = b.current()
    assert st.outside and any("Docker's" in w for w in st.warnings)
    b.apply(intent)  # steady state: still one rule
    assert len(set(_saved(t.host)) - set(docker_rules)) == 1

    b.clear()
    assert _saved(t.host) == docker_rules
    assert dockerd.poll() is None  # Docker did not mind
