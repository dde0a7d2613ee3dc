"""Network sysctls, read and written inside a chosen namespace.

/proc/sys/net shows the namespace of the process that opens the file, not of the
thread or of the /proc mount, so a namespace's values are reached from a short-lived
forked child that enters the namespace, opens the file, and exits: the same effect as
`ip netns exec NS sysctl -w KEY=VALUE`, without a thread of ours ever calling setns().
"""

import os

from fabric.errors import InvalidArgument
from fabric.net import netns
from fabric.net.errors import translate


def conf_key(ifname: str, name: str, family: str = "ipv4") -> str:
    """The key of a per-interface setting, in slash form because an interface name
    may itself contain dots (sysctl(8) accepts both forms)."""
    return f"net/{family}/conf/{ifname}/{name}"


def proc_path(key: str) -> str:
    parts = key.split("/") if "/" in key else key.split(".")
    if parts[0] != "net" or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"not a network sysctl: {key!r}")
    return os.path.join("/proc/sys", *parts)


def _rw(path: str, value: str | None) -> str:
    with open(path) as f:
        old = f.read().strip()
    if value is not None and old != value:
        with open(path, "w") as f:
            f.write(value)
    return old


def _child(nspath: str, path: str, value: str | None) -> bytes:
    from pyroute2 import netns as pnetns
    pnetns.setns(nspath, flags=0, fork=False)
    return _rw(path, value).encode()


def _run(ns: str | None, key: str, value: str | None) -> str:
    path = proc_path(key)
    what = f"sysctl {'-w ' + key + '=' + value if value is not None else key}"
    try:
        if ns is None:
            return _rw(path, value)
        from pyroute2.process import ChildProcess
        with ChildProcess(target=_child, args=[netns.require(ns), path, value]) as proc:
            return proc.get_data().decode()
    except OSError as e:
        raise translate(e, what) from e


def get(key: str, ns: str | None = None) -> str:
    return _run(ns, key, None)


def set(key: str, value: str, ns: str | None = None) -> str:  # noqa: A001 - sysctl's verb
    """Write a value; returns the previous one so a caller can restore it."""
    return _run(ns, key, str(value))
