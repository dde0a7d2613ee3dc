"""`-H` and FABRIC_HOST: a host's name, LAB.HOST, a bare HOST, tcp://, and the errors."""

import os
import socket
import subprocess
import threading

import pytest
from hostcli import FABRIC, error_line, fabric, unique

from fabric.client.connect import resolve
from fabric.host import hosts
from fabric.net import netns


def _ns_of(pid: int) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino


def test_name_reaches_that_hosts_daemon_inside_its_namespace(host, host2):
    cid = fabric("-H", host.tag, "run", "-d", "--name", "only-here", "busybox", "sleep",
                 "300").stdout.strip()
    assert fabric("-H", host.tag, "ps", "-q").stdout.split() == [cid[:12]]
    assert fabric("-H", host2.tag, "ps", "-aq").stdout == ""
    for h in (host, host2):
        pid = h.daemon_pid()
        assert pid and _ns_of(pid) == netns.identity(h.netns) != _ns_of(os.getpid())
    # the container's own namespace hangs off the host's daemon, not the machine
    assert fabric("-H", host.tag, "exec", "only-here", "true").returncode == 0


def test_H_beats_FABRIC_HOST_and_DOCKER_vars_are_ignored(host):
    host.fab("run", "-d", "--name", "mine", "busybox", "sleep", "300")
    names = ["-H", host.tag, "ps", "--format", "{{.Names}}"]
    assert fabric(*names, FABRIC_HOST="nosuch").stdout == "mine\n"
    assert fabric(*names[2:], FABRIC_HOST=host.tag,
                  DOCKER_HOST="unix:///nonexistent.sock").stdout == "mine\n"
    line = error_line(fabric("ps", check=False, FABRIC_HOST="nosuch-x"))
    assert line.startswith("Error: no host 'nosuch-x'; known hosts: local, ") and host.tag in line


def test_lab_hosts_by_full_and_bare_name():
    lab1, lab2, h, solo = unique("l"), unique("l"), unique("h"), unique("s")
    made = [hosts.add(h, lab=lab1, start=False), hosts.add(h, lab=lab2, start=False),
            hosts.add(solo, lab=lab1, start=False)]
    try:
        a, b, s = made
        assert (a.name, a.lab, a.netns) == (f"{lab1}.{h}", lab1, f"fabh-{lab1}.{h}")
        assert resolve(f"{lab2}.{h}", "/unused").root == b.root
        target = resolve(solo, "/unused")  # the only lab host of that name
        assert (target.root, target.netns) == (s.root, s.netns)
        line = error_line(fabric("-H", h, "ps", check=False))
        both = ", ".join(sorted([a.name, b.name]))
        assert line == f"Error: host {h!r} is ambiguous: {both} (name one as LAB.HOST)"
        line = error_line(fabric("-H", f"{lab1}.nosuch", "ps", check=False))
        assert line.startswith(f"Error: no host '{lab1}.nosuch'; known hosts: local, ")
        assert f"{lab1}.{h}" in line and f"{lab1}.{solo}" in line
        # a bare name reaches the daemon, started inside that lab host's namespace
        assert fabric("-H", solo, "ps", "-q").stdout == ""
        assert netns.identity(s.netns) == _ns_of(s.daemon_pid())
    finally:
        for m in made:
            m.remove()
    assert not any(os.path.exists(m.root.path) for m in made)


def test_local_and_sockets_given_outright(tmp_path):
    local = resolve("local", str(tmp_path))
    assert local.root.path == str(tmp_path) and local.netns is None
    assert resolve(f"unix://{tmp_path}/x.sock", "/unused").client.url == \
        f"unix://{tmp_path}/x.sock"
    # a socket given outright is never started: one line, and no daemon appears
    line = error_line(fabric("-H", f"unix://{tmp_path}/x.sock", "ps", check=False))
    assert line == f"Error: cannot connect to the fabric daemon at unix://{tmp_path}/x.sock. " \
                   "Is it running?"
    assert "bad TCP address" in error_line(fabric("-H", "tcp://[::1", "ps", check=False))
    assert os.listdir(tmp_path) == []


class Forwarder:
    """127.0.0.1:PORT forwarded to a unix socket: a daemon reached over TCP."""

    def __init__(self, target: str):
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX)
            up.connect(self.target)
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        # shutdown wakes the accepting thread; close alone leaves the socket listening
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()


@pytest.fixture
def forwarder(host):
    host.fab("ps")  # the daemon is up
    f = Forwarder(host.host.socket)
    try:
        yield f
    finally:
        f.close()


def test_tcp_reaches_a_daemon(host, forwarder):
    url = f"tcp://127.0.0.1:{forwarder.port}"
    host.fab("run", "-d", "--name", "over-tcp", "busybox", "sh", "-c", "echo hi; sleep 300")
    assert fabric("-H", url, "ps", "--format", "{{.Names}}").stdout == "over-tcp\n"
    assert fabric("-H", url, "logs", "over-tcp").stdout == "hi\n"
    assert fabric("-H", url, "run", "--rm", "busybox", "echo", "via tcp").stdout == "via tcp\n"
    forwarder.close()
    line = error_line(fabric("-H", url, "ps", check=False))
    assert line == f"Error: cannot connect to the fabric daemon at {url}. Is it running?"


def test_daemon_ignores_a_fabric_checkout_in_the_working_directory(host, tmp_path):
    """`python -m` puts the working directory first on sys.path: a fabric checkout
    there (an older build, a developer's tree) must not be what the daemon imports."""
    shadow = tmp_path / "fabric"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the shadow checkout was imported')\n")
    p = subprocess.run([FABRIC, "-H", host.tag, "run", "--rm", "busybox", "true"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env={**os.environ, "FABRIC_HOSTS_DIR": os.environ["FABRIC_HOSTS_DIR"]})
    assert p.returncode == 0, p.stderr
