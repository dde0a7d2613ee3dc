"""route_localnet on bridges, so a port published on 127.0.0.1 reaches a container.

A connection from the host to 127.0.0.1:PORT is DNATed in the output hook to the
container, but its source stays 127.0.0.1 and the kernel refuses to route a loopback
source out of a non-loopback device unless that device has route_localnet=1. So the
bridge gets it, postrouting masquerades the 127.0.0.0/8 source to the bridge's
address (the container could not answer 127.0.0.1), and fabric's guard chain drops
anything arriving from a bridge for 127.0.0.0/8 (what route_localnet would otherwise
let a container do, CVE-2020-8558). No proxy process is involved.

Fabric only switches the setting from 0 to 1 and remembers where in its own table
(set `localnet`), so it switches back exactly those bridges when their ports go, and
never one a user had set. These functions run inside the target namespace (nsexec).
"""

import os

from fabric.firewall.intent import FirewallIntent


def _path(bridge: str) -> str:
    return f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet"


def wanted(intent: FirewallIntent) -> set[str]:
    """Interfaces (bridges) of networks that carry a port published on every address
    or on a loopback one."""
    nets = {n.id: n for n in intent.networks if not n.internal}
    out: set[str] = set()
    for p in intent.ports:
        n = nets.get(p.network_id)
        # host_ip is a validated dotted quad: 127.0.0.0/8 is exactly "127.*"
        if n is not None and (
                not p.host_ip or p.host_ip == "0.0.0.0" or p.host_ip.startswith("127.")):
            out.update(n.facts.interfaces)
    return out


def read(bridge: str) -> str | None:
    """The value, or None when the bridge does not exist (any more)."""
    try:
        with open(_path(bridge)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def write(bridge: str, value: str) -> None:
    try:
        with open(_path(bridge), "w") as f:
            f.write(value)
    except FileNotFoundError:
        pass  # the bridge went away: nothing left to set or restore


def plan(intent: FirewallIntent, recorded: frozenset[str]) -> tuple[frozenset[str], list, list]:
    """(bridges fabric owns the setting of afterwards, to switch on, to switch off)."""
    want = wanted(intent)
    ours, on, off = set(), [], []
    for b in sorted(want):
        v = read(b)
        if v == "0":
            on.append(b)
            ours.add(b)
        elif v == "1" and b in recorded:
            ours.add(b)
    for b in sorted(recorded - want):
        if read(b) == "1":
            off.append(b)
    return frozenset(ours), on, off


def exists(bridge: str) -> bool:
    return os.path.isdir(f"/proc/sys/net/ipv4/conf/{bridge}")
