"""Named network namespaces under /run/netns, as `ip netns` keeps them.

A namespace is referred to by name (`ctr1`, bind-mounted at /run/netns/ctr1) or by an
absolute path (/run/netns/ctr1, /proc/PID/ns/net). `None` always means the namespace
the calling process lives in, which for a daemon is its host's.

Creation unshares a throwaway thread into a new namespace, bind-mounts it under
/run/netns and brings its loopback up, all from that thread. This costs about 2 ms;
pyroute2's netns.create forks a helper process and, with bringing lo up, took about
35 ms here, a quarter of a container's start budget. Every namespace fabric makes
(containers', hosts', and the bare ones tests and benchmarks use) is made here.
"""

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading

from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 4096, 16384, 1 << 20
MNT_DETACH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_dir_shared = False


def path(ns: str) -> str:
    if not ns:
        raise InvalidArgument("empty network namespace name")
    if ns.startswith("/"):
        return ns
    if "/" in ns or ns in (".", ".."):
        raise InvalidArgument(f"bad network namespace name {ns!r}")
    return os.path.join(NETNS_DIR, ns)


def name(ns: str) -> str | None:
    """The `ip netns` name of a namespace reference, or None when it has none
    (e.g. /proc/PID/ns/net), in which case commands must use nsenter."""
    if not ns.startswith("/"):
        return ns
    d, base = os.path.split(ns)
    return base if d in (NETNS_DIR, "/var/run/netns") else None


def exists(ns: str) -> bool:
    p = path(ns)
    # A file under /run/netns that is not a mount is a leftover of a failed create.
    return os.path.exists(p) and (not p.startswith(NETNS_DIR + "/") or _mounted(p))


def _mounted(p: str) -> bool:
    try:
        return os.stat(p).st_dev != os.stat(os.path.dirname(p)).st_dev
    except FileNotFoundError:
        return False


def identity(ns: str) -> tuple[int, int] | None:
    """(device, inode) of the namespace itself, what /proc/PID/ns/net of every process
    inside it stats to; None when there is no such namespace."""
    if not exists(ns):
        return None
    st = os.stat(path(ns))
    return st.st_dev, st.st_ino


def create(ns: str) -> str:
    """Create a named namespace with lo up and return its path; Conflict if it exists."""
    p = path(ns)
    if os.path.dirname(p) != NETNS_DIR:
        raise InvalidArgument(f"can only create named namespaces under {NETNS_DIR}: {ns}")
    _share_dir()
    if exists(ns):
        raise Conflict(f"network namespace {ns} already exists")
    # O_EXCL is not used: a plain file here is a leftover of a failed create, reused.
    os.close(os.open(p, os.O_CREAT | os.O_RDONLY, 0))
    err: list[str] = []

    def work() -> None:
        # unshare moves this thread alone, and the namespace outlives it by the mount
        if _libc.unshare(CLONE_NEWNET) != 0:
            err.append("unshare: " + os.strerror(ctypes.get_errno()))
            return
        if _libc.mount(b"/proc/thread-self/ns/net", p.encode(), None, MS_BIND, None) != 0:
            err.append("bind mount: " + os.strerror(ctypes.get_errno()))
            return
        _lo_up()

    t = threading.Thread(target=work, name="netns-create")
    t.start()
    t.join()
    if err:
        remove(ns)
        raise FabricError(f"cannot create network namespace {p}: {err[0]}")
    return p


def _share_dir() -> None:
    """Make /run/netns a shared mount, as `ip netns add` does, so a namespace mounted
    there is seen from other mount namespaces too (`ip netns exec` makes one)."""
    global _dir_shared
    if _dir_shared:
        return
    os.makedirs(NETNS_DIR, exist_ok=True)
    d = NETNS_DIR.encode()
    if _libc.mount(b"none", d, None, MS_SHARED | MS_REC, None) != 0:
        # not a mount point yet: bind it onto itself first
        if _libc.mount(d, d, None, MS_BIND | MS_REC, None) != 0 or \
                _libc.mount(b"none", d, None, MS_SHARED | MS_REC, None) != 0:
            raise FabricError(f"cannot make {NETNS_DIR} a shared mount: "
                              f"{os.strerror(ctypes.get_errno())}")
    _dir_shared = True


def _lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, req)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def remove(ns: str) -> bool:
    """Unmount and unlink a named namespace; False when it was already gone.

    The namespace itself lives on while a process or an open fd holds it, exactly as
    with `ip netns delete`."""
    p = path(ns)
    if not os.path.lexists(p):
        return False
    if _libc.umount2(p.encode(), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted (a leftover file)
            raise FabricError(f"cannot unmount {p}: {os.strerror(e)}")
    try:
        os.unlink(p)
    except FileNotFoundError:
        return False
    return True


def require(ns: str) -> str:
    p = path(ns)
    if not exists(ns):
        raise NotFound(f"network namespace {ns} does not exist")
    return p


def list_named() -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if exists(n))
    except FileNotFoundError:
        return []
