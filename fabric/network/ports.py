"""Published ports: choosing host ports and refusing ones already taken.

No proxy process holds a published port (the firewall DNATs it), so "taken" is
checked twice: against every port fabric has published, and by trying to bind it on
the host, which fails when another program listens there.
"""

import errno
import socket
from collections.abc import Callable, Iterable

from fabric.errors import Conflict, InvalidArgument

EPHEMERAL = (32768, 60999)  # Linux's default ip_local_port_range, as Docker uses

Binding = tuple[str, str, int]  # (proto, host_ip, host_port)


def _clash(a: Binding, b: Binding) -> bool:
    return a[0] == b[0] and a[2] == b[2] and (a[1] == b[1] or "0.0.0.0" in (a[1], b[1]))


def bindable(proto: str, ip: str, port: int, ns: str | None = None) -> bool:
    """Can something bind ip:port on the host right now?"""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    if ns is None:
        s = socket.socket(socket.AF_INET, kind)
    else:
        from pyroute2 import netns as pnetns

        from fabric.net import netns
        s = pnetns.create_socket(netns.require(ns), socket.AF_INET, kind, flags=0)
    try:
        if proto == "tcp":
            # a connection in TIME_WAIT must not count as taken; a listener still does
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        if e.errno == errno.EADDRNOTAVAIL:
            raise InvalidArgument(f"cannot publish on {ip}: no such address on the host") from e
        raise
    finally:
        s.close()


def resolve(exposed: dict | None, bindings: dict | None, publish_all: bool,
            taken: Iterable[Binding], free: Callable[[str, str, int], bool],
            default_ip: str = "0.0.0.0") -> dict:
    """Docker's NetworkSettings.Ports for one container: every exposed port, with the
    host addresses chosen for the published ones (None for exposed-only ports)."""
    used = list(taken)
    out: dict = {}
    wanted = dict(bindings or {})
    if publish_all:
        for key in exposed or {}:
            wanted.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    for key in sorted(set(exposed or {}) | set(wanted), key=_port_key):
        port, proto = _port_key(key)
        if key not in wanted:
            out[key] = None
            continue
        out[key] = []
        for b in wanted[key] or [{"HostIp": "", "HostPort": ""}]:
            ip = b.get("HostIp") or default_ip
            chosen = _choose(proto, ip, str(b.get("HostPort") or ""), used, free)
            used.append((proto, ip, chosen))
            out[key].append({"HostIp": ip, "HostPort": str(chosen)})
    return out


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    try:
        return int(port), (proto or "tcp")
    except ValueError:
        raise InvalidArgument(f"invalid port {key!r}") from None


def _choose(proto: str, ip: str, spec: str, used: list[Binding],
            free: Callable[[str, str, int], bool]) -> int:
    if spec and "-" not in spec:
        port = int(spec)
        if any(_clash((proto, ip, port), u) for u in used):
            raise Conflict(f"Bind for {ip}:{port} failed: port is already allocated")
        if not free(proto, ip, port):
            raise Conflict(f"Bind for {ip}:{port} failed: address already in use by "
                           "another program on the host")
        return port
    lo, hi = (int(x) for x in spec.split("-", 1)) if spec else EPHEMERAL
    for port in range(lo, hi + 1):
        if not any(_clash((proto, ip, port), u) for u in used) and free(proto, ip, port):
            return port
    raise Conflict(f"Bind for {ip}:{spec or 'ephemeral'} failed: no free port in "
                   f"{lo}-{hi}")


def bindings_of(ports: dict | None) -> list[Binding]:
    """The host side of a container's NetworkSettings.Ports."""
    out = []
    for key, binds in (ports or {}).items():
        _, proto = _port_key(key)
        for b in binds or []:
            out.append((proto, b["HostIp"], int(b["HostPort"])))
    return out
