"""Each member host's slice of a lab-wide network's subnet.

The drivers that join hosts over one subnet (routing, ovs; bridge with `-o uplink=IF`) give
each host a slice of it, `host-prefix` long (default 24), in the order the hosts appear
in the lab file, unless a host pins its own (`slices: {NET: CIDR}` under the host).
The rule, so a lab file and the drivers agree: pinned slices first; then each other
member, in file order, takes the lowest block of that size that overlaps no slice
already taken. The lab uses the result to check pinned container addresses and to
draw the graph; the daemons get the pinned slices only (option `slice`).
"""

import functools
from dataclasses import replace
from importlib.metadata import entry_points
from ipaddress import IPv4Network

from fabric.lab import model
from fabric.lab.source import Source

DEFAULT_HOST_PREFIX = 24
SLICING = ("routing", "ovs")    # global drivers that slice their subnet among the hosts


def sliced(net: model.Network) -> bool:
    """Does the driver hand each host a slice of the subnet?"""
    return net.driver in SLICING or (net.driver == "bridge" and
                                     net.option("uplink") is not None)


def spans_hosts(net: model.Network) -> bool:
    """Is the network one across its hosts (sliced, or its driver's networks are
    global, as the mesh driver's: one address pool), rather than each host's own?"""
    return sliced(net) or _global(net.driver)


@functools.cache
def _global(driver: str) -> bool:
    for ep in entry_points(group="fabric.drivers", name=driver):
        return ep.load().scope == "global"
    return False


def assign(src: Source, net: model.Network, hosts: tuple[model.Host, ...]) -> model.Network:
    where = ("networks", net.name)
    pinned = {h.name: h.slice(net.name) for h in hosts if h.slice(net.name) is not None}
    taken: list[tuple[str, IPv4Network]] = []
    for host, piece in pinned.items():
        assert piece is not None
        clash = next((other for other, p in taken if p.overlaps(piece)), None)
        if clash is not None:
            raise src.error(("hosts", host, "slices", net.name),
                            f"slice {piece} overlaps host '{clash}''s slice of "
                            f"'{net.name}' ({dict(taken)[clash]})")
        taken.append((host, piece))
    if not sliced(net):
        return replace(net, slices=tuple(taken), pinned=tuple(pinned))
    if net.subnet is None:
        raise src.error(where, f"driver '{net.driver}' hands each host a slice of the "
                        "network's subnet: give it a `subnet:`")
    prefix = _host_prefix(src, net)
    out = dict(taken)
    for host in net.hosts:
        if host in out:
            continue
        free = next((b for b in net.subnet.subnets(new_prefix=prefix)
                     if not any(b.overlaps(p) for p in out.values())), None)
        if free is None:
            raise src.error(where, f"subnet {net.subnet} has no /{prefix} left for host "
                            f"'{host}'")
        out[host] = free
    return replace(net, slices=tuple((h, out[h]) for h in net.hosts), pinned=tuple(pinned))


def _host_prefix(src: Source, net: model.Network) -> int:
    text = net.option("host-prefix")
    assert net.subnet is not None
    if text is None:
        prefix = DEFAULT_HOST_PREFIX
    elif text.isdigit():
        prefix = int(text)
    else:
        raise src.error(("networks", net.name, "options", "host-prefix"),
                        f"'{text}' is not a prefix length (e.g. 24)")
    if not net.subnet.prefixlen <= prefix <= 30:
        raise src.error(("networks", net.name, "options", "host-prefix"),
                        f"/{prefix} does not fit in {net.subnet} (between "
                        f"/{net.subnet.prefixlen} and /30)")
    return prefix
