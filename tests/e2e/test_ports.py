"""Published ports, end to end through the CLI: reachable from another host over an
underlay link, from the host itself (its own address and 127.0.0.1) and from the
container itself (hairpin), without any proxy process."""

import subprocess
import time
import uuid

import pytest

from fabric.host import bare


@pytest.fixture
def peer(host):
    """Another machine: a namespace joined to the lab host by a veth 'underlay'."""
    a, b = f"fu{uuid.uuid4().hex[:8]}", f"fu{uuid.uuid4().hex[:8]}"
    with bare.Namespaces(f"fabp-{uuid.uuid4().hex[:6]}-") as made:
        name = made.make("peer")
        subprocess.run(["ip", "link", "add", a, "netns", host.netns, "type", "veth", "peer",
                        "name", b, "netns", name], check=True)
        host.sh(f"ip addr add 192.0.2.1/24 dev {a} && ip link set {a} up")
        subprocess.run(["ip", "-n", name, "addr", "add", "192.0.2.2/24", "dev", b], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", b, "up"], check=True)
        yield name


def _listening(host, port: int) -> bool:
    """A socket in LISTEN state (0A) on the port, in /proc/net/tcp or tcp6."""
    text = host.sh("cat /proc/net/tcp /proc/net/tcp6").out
    return any(f":{port:04X} " in ln and ln.split()[3] == "0A" for ln in text.splitlines()[1:]
               if len(ln.split()) > 3)


def _get_from_peer(peer: str, url: str) -> str:
    p = subprocess.run(["ip", "netns", "exec", peer, "busybox", "timeout", "3", "busybox",
                        "wget", "-q", "-O", "-", url], capture_output=True, text=True)
    return p.stdout


def _web(host, *args):
    host.fab("run", "-d", "--name", "web", *args, "busybox", "sh", "-c",
             "echo port-ok > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    host.fab("exec", "web", "sh", "-c", "for i in $(seq 50); do wget -q -O /dev/null "
             "http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1")


def test_published_port_from_peer_host_localhost_and_hairpin(host, peer):
    _web(host, "-p", "8080:80")
    assert host.fab("port", "web").out == "80/tcp -> 0.0.0.0:8080\n"
    assert _get_from_peer(peer, "http://192.0.2.1:8080/") == "port-ok\n"
    r = host.sh("busybox timeout 3 busybox wget -q -O - http://192.0.2.1:8080/")
    assert r.out == "port-ok\n"
    r = host.sh("busybox timeout 3 busybox wget -q -O - http://127.0.0.1:8080/")
    assert r.out == "port-ok\n"
    hair = host.fab("exec", "web", "timeout", "3", "wget", "-q", "-O", "-",
                    "http://192.0.2.1:8080/", check=False)
    assert hair.out == "port-ok\n"
    # No proxy process: nothing in the host listens on the published port.
    assert not _listening(host, 8080)


def test_ephemeral_and_publish_all(host):
    host.fab("run", "-d", "--name", "eph", "--expose", "7000", "--expose", "7001/udp", "-P",
             "busybox", "sleep", "300")
    out = host.fab("port", "eph").out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("7000/tcp -> 0.0.0.0:") and out[1].startswith("7001/udp -> 0.0.0.0:")
    port = int(out[0].rsplit(":", 1)[1])
    assert 32768 <= port <= 60999
    assert host.fab("port", "eph", "7000").out.strip() == f"0.0.0.0:{port}"


def test_host_port_taken_is_a_clear_error_and_leaves_nothing(host):
    host.fab("run", "-d", "--name", "first", "-p", "9090:80", "busybox", "sleep", "300")
    r = host.fab("run", "-d", "--name", "second", "-p", "9090:80", "busybox", "sleep", "300",
                 check=False)
    assert r.code == 125 and "9090" in r.err and len(r.err.strip().splitlines()) == 1
    assert "second" not in host.fab("ps", "-a", "--format", "{{.Names}}").out.split()
    # A program of the host's own listening on a port.
    listener = subprocess.Popen(host.prefix + ["busybox", "nc", "-l", "-p", "9191"])
    try:
        for _ in range(50):
            if _listening(host, 9191):
                break
            time.sleep(0.1)
        r = host.fab("run", "-d", "-p", "9191:80", "busybox", "sleep", "300", check=False)
        assert r.code == 125 and "9191" in r.err
    finally:
        listener.kill()
        listener.wait()
    first = host.fab("ps", "-aq", "-f", "name=first").out.strip()
    assert host.fab("ps", "-aq").out.split() == [first]


@pytest.mark.parametrize("spec", ["99999:80", "80:abc", "1-3:4-5/udp:", "1.2.3:80:80", "80/gre"])
def test_bad_port_specs(host, spec):
    r = host.fab("run", "-d", "-p", spec, "busybox", "true", check=False)
    assert r.code == 125 and r.err.strip() and len(r.err.strip().splitlines()) == 1
    assert host.fab("ps", "-aq").out == ""
