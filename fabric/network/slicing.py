"""Slices: each member host's share of a network the hosts of a cluster share (pure).

A network such as `routing` 10.40.0.0/16 gives each host that joins it a block of
`host-prefix` bits (default 24) to hand its containers addresses from, as flannel
leases a /24 per node: the lowest free block in the order hosts join, unless a host
pins its own (option `slice`). The lab files compute the same rule to draw and check
a lab before it exists (fabric/lab/slices.py).
"""

from collections.abc import Iterable

from netaddr import IPNetwork

from fabric.errors import Conflict, InvalidArgument
from fabric.network import ipam

DEFAULT_HOST_PREFIX = 24
SLICE = "slice"                 # per host: the slice this host pins
HOST_PREFIX = "host-prefix"     # per network: the size of the slices handed out
OPTIONS = (SLICE, HOST_PREFIX)  # options the network core takes, not the driver


def host_prefix(text: str | None, subnet: str) -> int:
    """The `host-prefix` option, checked against the network's subnet."""
    net = ipam.parse_subnet(subnet)
    if text is None:
        n = max(DEFAULT_HOST_PREFIX, net.prefixlen)
    else:
        try:
            n = int(str(text).lstrip("/"))
        except ValueError:
            raise InvalidArgument(f"option {HOST_PREFIX}: expected a prefix length such "
                                  f"as 24, got {text!r}") from None
    if not net.prefixlen <= n <= 30:
        raise InvalidArgument(f"option {HOST_PREFIX}: /{n} does not fit in {subnet} "
                              f"(between /{net.prefixlen} and /30)")
    return n


def pinned(text: str | None, subnet: str) -> str | None:
    """The `slice` option: a block inside the network's subnet."""
    if text is None:
        return None
    piece = ipam.parse_subnet(text, "slice")
    whole = ipam.parse_subnet(subnet)
    if not (whole.first <= piece.first and piece.last <= whole.last):
        raise InvalidArgument(f"slice {piece} is outside subnet {whole}")
    if piece.prefixlen > 30:
        raise InvalidArgument(f"slice {piece} is too small: at most /30")
    return str(piece)


def choose(subnet: str, prefix: int, taken: Iterable[str], pin: str | None = None) -> str:
    """The slice a joining host gets: `pin` if it overlaps no slice `taken`, else the
    lowest free /`prefix` block of `subnet`. Conflict when there is none."""
    used = [IPNetwork(t) for t in taken]
    if pin is not None:
        want = IPNetwork(pin)
        clash = next((u for u in used if ipam.overlaps(want, u)), None)
        if clash is not None:
            raise Conflict(f"slice {pin} overlaps another host's slice {clash}")
        return pin
    for block in IPNetwork(subnet).subnet(prefix):
        if not any(ipam.overlaps(block, u) for u in used):
            return str(block)
    raise Conflict(f"subnet {subnet} has no /{prefix} slice left for another host")
