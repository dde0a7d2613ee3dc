"""Each container's network namespace, made by fabric and handed to runc by path.

Creation unshares a throwaway thread into a new namespace and bind-mounts it under
/run/netns, like `ip netns add`, so network drivers can find it by name. This costs
about 2 ms; pyroute2's netns.create forks a helper process and, with bringing lo up,
took about 35 ms here, a quarter of the start budget.
"""

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading

from fabric.errors import FabricError

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def netns_name(container_id: str) -> str:
    return "fabc-" + container_id[:12]


def netns_path(container_id: str) -> str:
    return os.path.join(NETNS_DIR, netns_name(container_id))


def _ensure_netns_dir() -> None:
    os.makedirs(NETNS_DIR, exist_ok=True)


def create(container_id: str) -> str:
    """Create the container's namespace with lo up; return its path."""
    _ensure_netns_dir()
    path = netns_path(container_id)
    if os.path.exists(path) and _is_mounted(path):
        return path
    fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0)
    os.close(fd)
    err: list[str] = []

    def work() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            err.append("unshare: " + os.strerror(ctypes.get_errno()))
            return
        if _libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, MS_BIND, None) != 0:
            err.append("bind mount: " + os.strerror(ctypes.get_errno()))
            return
        _lo_up()

    t = threading.Thread(target=work, name="netns-create")
    t.start()
    t.join()
    if err:
        remove(container_id)
        raise FabricError(f"cannot create network namespace {path}: {err[0]}")
    return path


def _lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, req)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def _is_mounted(path: str) -> bool:
    try:
        return os.stat(path).st_dev != os.stat(NETNS_DIR).st_dev or \
            os.stat(path).st_ino != os.lstat(path).st_ino
    except FileNotFoundError:
        return False


def remove(container_id: str) -> None:
    """Idempotent: an absent namespace is already removed."""
    path = netns_path(container_id)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):
            raise FabricError(f"cannot unmount {path}: {os.strerror(e)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
