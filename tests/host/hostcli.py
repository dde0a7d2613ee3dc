"""Running the fabric CLI as a user would, outside every namespace, and what a removed
host must not leave behind."""

import os
import subprocess
import sys
import uuid

from fabric import procs
from fabric.host import teardown
from fabric.net import netns
from fabric.runtime import sandbox

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")


def unique(prefix: str = "t") -> str:
    return prefix + uuid.uuid4().hex[:7]


def fabric(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """The CLI in the machine's namespace, with the session's hosts directory and no
    FABRIC_*/DOCKER_* variables but those given."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("FABRIC_", "DOCKER_"))}
    base["FABRIC_HOSTS_DIR"] = os.environ["FABRIC_HOSTS_DIR"]
    p = subprocess.run([FABRIC, *args], capture_output=True, text=True, timeout=60,
                       env={**base, **env})
    if check and p.returncode != 0:
        raise AssertionError(f"fabric {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def error_line(p: subprocess.CompletedProcess) -> str:
    """A failed command's one line of error, and exit 125."""
    assert p.returncode == 125, p
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def remains(root: str, netns_name: str, cids: list[str]) -> list[str]:
    """Everything of a host still there: processes naming its root, mounts under it,
    its containers' and its own namespaces, the root itself."""
    cmds = {pid: procs.cmdline(pid) for pid in procs.pids()}
    out = [f"process {pid}: {cmd}" for pid, cmd in cmds.items() if any(root in a for a in cmd)]
    out += [f"mount {m}" for m in teardown.mounts_under(root)]
    out += [f"namespace {n}" for n in [sandbox.netns_name(c) for c in cids] + [netns_name]
            if os.path.lexists(netns.path(n))]
    if os.path.exists(root):
        out.append(f"root {root}")
    return out
