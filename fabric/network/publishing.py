"""Published ports (-p, -P): choosing host ports and refusing ones already taken.

No proxy process holds a published port (the firewall DNATs it), so "taken" is
checked twice: against every port fabric has published (the endpoint records), and
against the sockets other programs hold on the host (fabric.firewall.listening, read
once per container however many ports it tries).
"""

import ipaddress
from collections.abc import Callable, Iterable

from fabric.errors import Conflict, InvalidArgument
from fabric.firewall.listening import Listening
from fabric.net import addrs, rtnl
from fabric.network.requests import Ports, Publish

EPHEMERAL = (32768, 60999)  # Linux's default ip_local_port_range, as Docker uses

Binding = tuple[str, str, int]  # (proto, host_ip, host_port)
Holds = Callable[[str, str, int], bool]   # does another program hold (proto, ip, port)?


def _clash(a: Binding, b: Binding) -> bool:
    return a[0] == b[0] and a[2] == b[2] and (a[1] == b[1] or "0.0.0.0" in (a[1], b[1]))


class HostPorts:
    """What the host's namespace says about addresses and ports, asked at most once
    per resolve."""

    def __init__(self, netns: str | None):
        self.netns = netns
        self._listening: Listening | None = None
        self._local: set[str] | None = None

    def holds(self, proto: str, ip: str, port: int) -> bool:
        if self._listening is None:
            self._listening = Listening.read(self.netns)
        return self._listening.holds(proto, ip, port)

    def check_address(self, ip: str) -> None:
        """Publishing on an address the host does not have would never match."""
        if ip == "0.0.0.0" or ipaddress.IPv4Address(ip).is_loopback:
            return
        if self._local is None:
            with rtnl.rtnl(self.netns) as ipr:
                self._local = {a.address for a in addrs.list_addrs(ipr)}
        if ip not in self._local:
            raise InvalidArgument(f"cannot publish on {ip}: no such address on the host")


def resolve(publish: Publish, taken: Iterable[Binding], host: HostPorts,
            default_ip: str = "0.0.0.0") -> Ports:
    """Docker's NetworkSettings.Ports for one container: every exposed port, with the
    host addresses chosen for the published ones (None for exposed-only ports)."""
    used = list(taken)
    out: Ports = {}
    wanted = dict(publish.bindings)
    if publish.all_exposed:
        for key in publish.exposed:
            wanted.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    for key in sorted(set(publish.exposed) | set(wanted), key=_port_key):
        port, proto = _port_key(key)
        if key not in wanted:
            out[key] = None
            continue
        out[key] = []
        for b in wanted[key] or [{"HostIp": "", "HostPort": ""}]:
            ip = b.get("HostIp") or default_ip
            host.check_address(ip)
            chosen = _choose(proto, ip, str(b.get("HostPort") or ""), used, host.holds)
            used.append((proto, ip, chosen))
            out[key].append({"HostIp": ip, "HostPort": str(chosen)})
    return out


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    try:
        return int(port), (proto or "tcp")
    except ValueError:
        raise InvalidArgument(f"invalid port {key!r}") from None


def _choose(proto: str, ip: str, spec: str, used: list[Binding], holds: Holds) -> int:
    if spec and "-" not in spec:
        port = int(spec)
        if any(_clash((proto, ip, port), u) for u in used):
            raise Conflict(f"Bind for {ip}:{port} failed: port is already allocated")
        if holds(proto, ip, port):
            raise Conflict(f"Bind for {ip}:{port} failed: address already in use by "
                           "another program on the host")
        return port
    lo, hi = (int(x) for x in spec.split("-", 1)) if spec else EPHEMERAL
    for port in range(lo, hi + 1):
        if not any(_clash((proto, ip, port), u) for u in used) and not holds(proto, ip, port):
            return port
    raise Conflict(f"Bind for {ip}:{spec or 'ephemeral'} failed: no free port in "
                   f"{lo}-{hi}")


def bindings_of(ports: Ports | None) -> list[Binding]:
    """The host side of a container's NetworkSettings.Ports."""
    out = []
    for key, binds in (ports or {}).items():
        _, proto = _port_key(key)
        for b in binds or []:
            out.append((proto, b["HostIp"], int(b["HostPort"])))
    return out
