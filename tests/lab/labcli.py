"""Running `fabric lab ...` as a user does, against a labs directory of the tests' own,
and what a lab may leave behind on this machine (it must leave nothing)."""

import atexit
import os
import subprocess
import sys
import tempfile
import uuid

from fabric.host import registry

FABRIC = [os.path.join(os.path.dirname(sys.executable), "fabric")]
LABS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "labs")
if "FABRIC_LABS_DIR" not in os.environ:
    os.environ["FABRIC_LABS_DIR"] = tempfile.mkdtemp(prefix="fl-", dir="/tmp")
    # empty when every lab came down; a lab left behind keeps it, to be looked at
    atexit.register(lambda d=os.environ["FABRIC_LABS_DIR"]: os.path.isdir(d) and
                    not os.listdir(d) and os.rmdir(d))
LABS_DIR = os.environ["FABRIC_LABS_DIR"]


class Result:
    def __init__(self, p: subprocess.CompletedProcess):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out!r} err={self.err!r}>"


def lab(*args: str, timeout: float = 180) -> Result:
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    return Result(subprocess.run(FABRIC + ["lab", *args], capture_output=True, text=True,
                                 timeout=timeout, env=env))


def unique(name: str) -> str:
    return f"{name[:24]}-{uuid.uuid4().hex[:4]}"


def lab_file(name: str) -> str:
    return os.path.join(LABS, f"{name}.yaml")


def root_snapshot() -> tuple:
    """The machine's own links and nftables tables (a lab makes none there)."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return (sorted(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()),
            sorted(tables.splitlines()))


def leftovers(name: str) -> list[str]:
    """Everything of lab `name` still on the machine: namespaces, hosts, processes,
    mounts, files."""
    found = []
    try:
        found += [f"netns {n}" for n in os.listdir("/run/netns")
                  if n.startswith((f"fabh-{name}.", f"fabs-{name}.")) or n == f"fabe-{name}"]
    except FileNotFoundError:
        pass
    found += [f"host {r.name}" for r in registry.records() if r.lab == name]
    hosts_dir = os.environ["FABRIC_HOSTS_DIR"]
    found += [f"host root {d}" for d in os.listdir(hosts_dir) if d.startswith(f"{name}.")]
    with open("/proc/self/mounts") as f:
        found += [f"mount {ln.split()[1]}" for ln in f
                  if f"{hosts_dir}/{name}." in ln.split()[1]]
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{hosts_dir}/{name}." in cmd or f"fabh-{name}." in cmd or \
                f"{LABS_DIR}/{name}/" in cmd:       # the lab's etcd
            found.append(f"process {pid}: {cmd[:80]}")
    if os.path.exists(os.path.join(LABS_DIR, name)):
        found.append(f"lab directory {os.path.join(LABS_DIR, name)}")
    return found
