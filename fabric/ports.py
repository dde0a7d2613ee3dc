"""Docker's port specs (-p/--publish, --expose), parsed without heavy imports so the CLI
and the daemon share one parser."""

import re

from fabric.errors import InvalidArgument

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _range(text: str, what: str, spec: str) -> tuple[int, int]:
    m = _RANGE.match(text)
    if not m:
        raise InvalidArgument(f"invalid {what} {text!r} in port spec {spec!r}: use a number or "
                              "a range like 8000-8010")
    a, b = int(m.group(1)), int(m.group(2) or m.group(1))
    if not (0 < a <= 65535 and 0 < b <= 65535) or b < a:
        raise InvalidArgument(f"invalid {what} {text!r} in port spec {spec!r}: ports are 1-65535 "
                              "and a range goes upwards")
    return a, b


def parse_publish(spec: str) -> list[tuple[str, str, int, int, str]]:
    """-p spec -> [(host_ip, host_port or "", container_port, _, proto)] one per port.

    Forms: PORT, HOSTPORT:PORT, IP:HOSTPORT:PORT, IP::PORT, ranges, /udp|/tcp|/sctp.
    """
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in port spec {spec!r}: use tcp or udp")
    ip = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise InvalidArgument(f"invalid IPv6 address in port spec {spec!r}")
        ip, rest = rest[1:end], rest[end + 2:] if rest[end + 1:end + 2] == ":" else rest[end + 1:]
        parts = rest.split(":")
        parts = [""] + parts if len(parts) == 1 else parts
        parts = [ip] + parts
    else:
        parts = rest.split(":")
    if len(parts) == 1:
        host, ctr = "", parts[0]
    elif len(parts) == 2:
        host, ctr = parts
    elif len(parts) == 3:
        ip, host, ctr = parts
    else:
        raise InvalidArgument(f"invalid port spec {spec!r}: use [IP:][HOSTPORT:]PORT[/udp]")
    if ip and not _valid_ip(ip):
        raise InvalidArgument(f"invalid IP address {ip!r} in port spec {spec!r}")
    c1, c2 = _range(ctr, "container port", spec)
    out = []
    if host:
        h1, h2 = _range(host, "host port", spec)
        if h2 - h1 != c2 - c1:
            if c1 == c2 and h2 > h1:
                # Docker: one container port, a host range to choose from.
                return [(ip, f"{h1}-{h2}", c1, c1, proto)]
            raise InvalidArgument(f"invalid port spec {spec!r}: the host and container ranges "
                                  "must be the same size")
        for i in range(c2 - c1 + 1):
            out.append((ip, str(h1 + i), c1 + i, c1 + i, proto))
    else:
        for p in range(c1, c2 + 1):
            out.append((ip, "", p, p, proto))
    return out


def parse_expose(spec: str) -> list[str]:
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in --expose {spec!r}")
    a, b = _range(rest, "port", spec)
    return [f"{p}/{proto}" for p in range(a, b + 1)]


def to_bindings(specs: list[str]) -> tuple[dict, dict]:
    """-p specs -> (ExposedPorts, PortBindings) as Docker's client sends them."""
    exposed: dict = {}
    bindings: dict = {}
    for spec in specs:
        for ip, host, cport, _end, proto in parse_publish(spec):
            key = f"{cport}/{proto}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host})
    return exposed, bindings


def _valid_ip(ip: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(ip)
        return True
    except ValueError:
        return False
