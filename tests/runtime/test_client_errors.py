"""What the CLI says when it cannot talk to a daemon: as a user without access to the
socket or the root (Docker's "Got permission denied while trying to connect to the
daemon socket"), and when the daemon drops a request half-way. One line, exit 125, never
a Python traceback."""

import os
import socket
import subprocess
import sys
import threading

FAB = os.path.join(os.path.dirname(sys.executable), "fabric")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
DENIED = "Got permission denied while trying to connect to the fabric daemon socket at unix://"


def _as_nobody(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NOBODY, FAB, *args], capture_output=True, text=True, env=env,
                          timeout=30, cwd="/")


def _one_line(p: subprocess.CompletedProcess, says: str) -> None:
    assert p.returncode == 125, p
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p
    assert says in p.stderr, p


def test_permission_denied_as_a_user(host, tmp_path):
    host.fab("ps")   # its daemon is up
    env = host.env()
    sock = os.path.join(host.root, "fabric.sock")
    # a socket given outright, the root's own socket, a host by name
    _one_line(_as_nobody(env, "-H", f"unix://{sock}", "ps"), DENIED + sock)
    bare = {k: v for k, v in env.items() if k != "FABRIC_HOST"}
    _one_line(_as_nobody(bare, "--root", host.root, "ps"), DENIED + sock)
    _one_line(_as_nobody(env, "ps"), "permission denied")
    # a root with no daemon that a user could not start one for (the default root of a
    # machine where none ran yet is this case)
    os.chmod(tmp_path, 0o755)
    for root in (tmp_path / "new", tmp_path):
        p = _as_nobody({**bare, "FABRIC_ROOT": str(root)}, "ps")
        _one_line(p, DENIED + os.path.join(str(root), "fabric.sock"))
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == []


def _dropping_server(path: str, read_request: bool) -> socket.socket:
    """A daemon that dies half-way: it accepts, then closes without an answer. Closing
    with the request unread makes the kernel reset the connection."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return   # the test closed it
            if read_request:
                c.recv(65536)
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_daemon_gone_mid_request(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    for read_request in (False, True):
        sock = str(tmp_path / f"d{int(read_request)}.sock")
        srv = _dropping_server(sock, read_request)
        try:
            for args in (("ps",), ("inspect", "x"), ("logs", "x")):
                p = subprocess.run([FAB, "-H", f"unix://{sock}", *args], capture_output=True,
                                   text=True, env=env, timeout=30)
                _one_line(p, "Error: the fabric daemon went away")
        finally:
            srv.shutdown(socket.SHUT_RDWR)
            srv.close()
