"""What /proc says about processes: whose pidfile a pid really is, who lives in a
namespace, and killing a set of them until they are gone.

A pid in a pidfile may have been reused since it was written, so it is only trusted
when the process shows it belongs to the root (its command line names the root, or its
filesystem root lies under it). Membership of a namespace is identity: the (device,
inode) that /proc/PID/ns/net stats to, never a name pattern.
"""

import os
import signal
import time
from collections.abc import Iterable


def read_pid(pidfile: str) -> int | None:
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().rsplit(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def belongs_to(pid: int, root: str) -> bool:
    """The process is the root's own: an argument is the root or a path under it, or
    its filesystem root is under it (a container's init after pivot_root)."""
    under = root.rstrip("/") + "/"
    if any(a == root or under in a for a in cmdline(pid)):
        return True
    try:
        return os.readlink(f"/proc/{pid}/root").startswith(under)
    except OSError:
        return False


def naming(root: str) -> list[int]:
    """Processes whose command line names the root or a path under it: its daemon,
    conmons, exit hooks (whichever namespace they run in)."""
    under = root.rstrip("/") + "/"
    me = os.getpid()
    return [pid for pid in pids()
            if pid != me and any(a == root or under in a for a in cmdline(pid))]


def pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def in_namespaces(idents: Iterable[tuple[int, int]]) -> list[int]:
    """Processes living in any of these network namespaces (by (device, inode))."""
    wanted = set(idents)
    if not wanted:
        return []
    me = os.getpid()
    out = []
    for pid in pids():
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in wanted and pid != me:
            out.append(pid)
    return out


def kill(pids_: Iterable[int], timeout: float = 5.0) -> list[int]:
    """SIGKILL each and wait until all are gone; the ones still alive at the deadline."""
    left = []
    for pid in set(pids_):
        try:
            os.kill(pid, signal.SIGKILL)
            left.append(pid)
        except ProcessLookupError:
            pass
    return wait_gone(left, timeout)


def stop(pid: int | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Signal the process and wait until it is gone, killing it when it outlasts the
    timeout; False when there was none."""
    if pid is None:
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    if wait_gone([pid], timeout):
        kill([pid])
    return True


def wait_gone(pids_: Iterable[int], timeout: float) -> list[int]:
    left = [p for p in pids_ if alive(p)]
    deadline = time.monotonic() + timeout
    delay = 0.002
    while left and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
        left = [p for p in left if alive(p)]
    return left
