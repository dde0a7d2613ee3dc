"""Run a function inside another network namespace, on a thread made for it.

setns(CLONE_NEWNET) moves only the calling thread, and a thread's namespace dies with
it, so a short-lived thread that enters the namespace, runs the function and exits
never changes the namespace of the daemon's other threads. Everything the function
opens there stays in that namespace: libnftables' netlink socket, sockets, the files
under /proc/sys/net (resolved against the opening thread) and /proc/thread-self/net;
processes it spawns inherit the thread's namespace too (iptables-restore).

A thread costs about 0.1 ms where a forked child costs several, which matters because
the firewall runs after every change (see bench/firewall_bench.py).
"""

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from fabric.net import netns as netnsmod

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def run(netns: str | None, fn: Callable[..., T], *args) -> T:
    """fn(*args) inside `netns` (a name under /run/netns or a path); None runs it
    right here, in the caller's namespace."""
    if netns is None:
        return fn(*args)
    path = netnsmod.require(netns)
    box: dict = {}

    def body() -> None:
        try:
            _setns(path)
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = e

    t = threading.Thread(target=body, name=f"netns:{netns}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
