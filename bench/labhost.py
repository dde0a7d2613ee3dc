"""A throwaway lab host for benchmarks: a network namespace with its own host root, so
the daemon's bridge, sysctls and firewall never touch the machine's namespace."""

import os
import shutil
import subprocess
import tempfile
import time


def make() -> tuple[str, str, list[str]]:
    """(netns name, host root, command prefix that runs inside the namespace)."""
    ns = f"fabbench-{os.getpid()}"
    root = tempfile.mkdtemp(prefix="fabric-bench-")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    return ns, root, ["nsenter", f"--net=/run/netns/{ns}"]


def remove(ns: str, root: str) -> None:
    """Stop the root's daemon, then drop the namespace and the root."""
    try:
        with open(os.path.join(root, "daemon.lock")) as f:
            os.kill(int(f.read()), 15)
        time.sleep(0.5)
    except (OSError, ValueError):
        pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
