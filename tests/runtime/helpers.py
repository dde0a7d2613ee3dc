"""Checks shared by the runtime tests: what a host root must not hold afterwards."""

import os
import subprocess

from polling import wait_for  # noqa: F401  (the runtime tests import it from here)


def status(host, name: str) -> str:
    return host.fab("inspect", "-f", "{{.State.Status}}", name).out.strip()


def mounts_under(root: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [ln.split()[1] for ln in f if ln.split()[1].startswith(root + "/")]


def runc_list(root: str) -> list[str]:
    p = subprocess.run(["runc", "--root", os.path.join(root, "runc"), "list", "-q"],
                       capture_output=True, text=True, check=False)
    return [ln for ln in p.stdout.split() if ln]


def processes(root: str, want) -> list[int]:
    """Live (not zombie) processes whose command line names the root and passes want."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    continue
        except OSError:
            continue
        if cmd and any(root.encode() in a for a in cmd) and want(cmd):
            out.append(int(pid))
    return out


def conmons(root: str) -> list[int]:
    return processes(root, lambda cmd: cmd[0].endswith(b"conmon"))


def assert_clean(host) -> None:
    """No container row, mount, runc state, directory or conmon left for this host root.
    The row goes first; the daemon disposes of the rest on a thread, within moments."""
    assert host.fab("ps", "-aq").out == ""
    cdir = os.path.join(host.root, "containers")
    wait_for(lambda: mounts_under(cdir) == [] and runc_list(host.root) == [] and
             os.listdir(cdir) == [], timeout=5)
    assert conmons(host.root) == []
