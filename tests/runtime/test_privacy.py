"""A host root keeps containers' secrets (`-e SECRET=...` lands in the store and in
config.json) from other local users, as Docker keeps /var/lib/docker: files 0600,
directories 0700/0710 (the root itself 0711 so a daemon socket can be reached), and a
root made by an older fabric is put right when its daemon starts."""

import os
import stat
import subprocess

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SECRET = "hunter2-4c1f"


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _modes(root: str, cid: str) -> dict[str, int]:
    cdir = os.path.join("containers", cid)
    names = ["", "fabric.db", "fabric.db-wal", "fabric.db-shm", "daemon.log", "daemon.lock",
             "host.json", "containers", "images", "layers", "volumes", "runc", "exits", "tmp",
             cdir, os.path.join(cdir, "config.json"), os.path.join(cdir, "ctr.log")]
    return {n: _mode(os.path.join(root, n)) for n in names}


WANT = {"": 0o711, "fabric.db": 0o600, "fabric.db-wal": 0o600, "fabric.db-shm": 0o600,
        "daemon.log": 0o600, "daemon.lock": 0o600, "host.json": 0o600, "containers": 0o710,
        "images": 0o700, "layers": 0o710, "volumes": 0o701, "runc": 0o700, "exits": 0o700,
        "tmp": 0o700}


def _check(host, cid: str) -> None:
    got = _modes(host.root, cid)
    cdir = os.path.join("containers", cid)
    want = {**WANT, cdir: 0o700, os.path.join(cdir, "config.json"): 0o600,
            os.path.join(cdir, "ctr.log"): 0o600}
    assert {k: oct(v) for k, v in got.items()} == {k: oct(v) for k, v in want.items()}
    # what another user can reach of the root holds no secret
    p = subprocess.run([*NOBODY, "grep", "-r", "-l", SECRET, host.root], capture_output=True,
                       text=True, timeout=60)
    assert p.stdout == "", p


def test_root_is_private(host):
    cid = host.fab("run", "-d", "--name", "s", "-e", f"SECRET={SECRET}", "busybox",
                   "sleep", "300").out.strip()
    assert SECRET in open(os.path.join(host.root, "containers", cid, "config.json")).read()
    _check(host, cid)


def test_old_root_put_right_at_start(host):
    cid = host.fab("run", "-d", "--name", "s", "-e", f"SECRET={SECRET}", "busybox",
                   "sleep", "300").out.strip()
    host.kill_daemon()
    # as an older fabric left them: files 0644, directories 0755/0711
    for name in _modes(host.root, cid):
        path = os.path.join(host.root, name)
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    assert host.fab("ps", "-q").out.strip() == cid[:12]
    _check(host, cid)
