"""Which host ports other programs hold in a namespace: fabric's one way to ask.

Fabric publishes ports by DNAT, with no process listening, so a program that listens
on the same port would silently stop receiving connections. The network core asks
before publishing and fails with a clear error. The answer comes from the kernel's
socket tables (/proc/net/{tcp,tcp6,udp,udp6}) read inside the namespace: unlike a
trial bind(), this neither races with the program nor needs the address to exist,
and one reading answers for every candidate port (an ephemeral port search tries
many).
"""

import ipaddress

from fabric.firewall import validate
from fabric.net import nsexec

_TCP_LISTEN = "0A"


def _addr(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hexaddr)
    # the kernel prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _bound(proto: str) -> list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    out = []
    for fam in ("", "6"):
        try:
            with open(f"/proc/thread-self/net/{proto}{fam}") as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if proto == "tcp" and state != _TCP_LISTEN:
                continue
            host, port = local.split(":")
            out.append((_addr(host), int(port, 16)))
    return out


def _clashes(want: ipaddress.IPv4Address, have) -> bool:
    if have.version == 6:
        mapped = have.ipv4_mapped
        if have.is_unspecified:
            return True  # [::]:port takes IPv4 too unless IPV6_V6ONLY, which /proc hides
        if mapped is None:
            return False
        have = mapped
    return want.is_unspecified or have.is_unspecified or want == have


class Listening:
    """The sockets bound in a namespace at one moment, by protocol."""

    def __init__(self, bound: dict[str, list]):
        self._bound = bound

    @classmethod
    def read(cls, netns: str | None = None) -> "Listening":
        """Read the socket tables inside `netns` (None: this thread's namespace)."""
        return nsexec.run(netns, lambda: cls({p: _bound(p) for p in ("tcp", "udp")}))

    def holds(self, proto: str, ip: str, port: int) -> bool:
        """True when a program listens on (tcp) or has bound (udp) `port` on `ip`, or
        on every address; ip "0.0.0.0" clashes with a program on any address."""
        validate.proto(proto, "port check")
        validate.ipv4(ip or "0.0.0.0", "port check")
        validate.port(port, "port check")
        want = ipaddress.IPv4Address(ip or "0.0.0.0")
        return any(p == port and _clashes(want, a) for a, p in self._bound[proto])


def port_in_use(proto: str, ip: str, port: int, netns: str | None = None) -> bool:
    """One question, one reading: Listening.read(netns).holds(proto, ip, port)."""
    return Listening.read(netns).holds(proto, ip, port)
