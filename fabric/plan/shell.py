"""How a step is written as the shell command a person would type for it.

Commands aimed at another namespace use iproute2's own `-n NAME` where the namespace
has a name, and `nsenter --net=PATH` where it has only a path (e.g. /proc/PID/ns/net).
"""

import shlex

from fabric.net import netns as netns_ref


def q(*words: object) -> str:
    return " ".join(shlex.quote(str(w)) for w in words if w is not None and w != "")


def ip(ns: str | None, *args: object) -> str:
    return _tool("ip", ns, args)


def bridge(ns: str | None, *args: object) -> str:
    return _tool("bridge", ns, args)


def tc(ns: str | None, *args: object) -> str:
    return _tool("tc", ns, args)


def _tool(tool: str, ns: str | None, args: tuple) -> str:
    if ns is None:
        return q(tool, *args)
    name = netns_ref.name(ns)
    if name is not None:
        return q(tool, "-n", name, *args)
    return q("nsenter", f"--net={ns}", tool, *args)


def exec_in(ns: str | None, *args: object) -> str:
    """Any other command (sysctl, nft) run inside a namespace."""
    if ns is None:
        return q(*args)
    name = netns_ref.name(ns)
    if name is not None:
        return q("ip", "netns", "exec", name, *args)
    return q("nsenter", f"--net={ns}", *args)


def netns_arg(ns: str) -> str:
    """What follows `netns` in `ip link add ... netns X`: a name or a path."""
    return netns_ref.name(ns) or ns
