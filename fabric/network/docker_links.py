"""Docker's legacy `--link NAME[:ALIAS]`: the consumer's hosts line, its environment
variables and the ports icc=false lets through (not to be confused with kernel links,
fabric/net/links.py).

Pure functions following moby's daemon/links/links.go, so the output can be compared
line by line with what Docker writes.
"""

from fabric.errors import InvalidArgument


def parse_link(spec: str) -> tuple[str, str]:
    """"NAME[:ALIAS]" (or Docker's stored "/name:/consumer/alias") -> (name, alias)."""
    name, _, alias = spec.partition(":")
    name = name.lstrip("/")
    alias = alias.rsplit("/", 1)[-1] if alias else name
    if not name or not alias:
        raise InvalidArgument(f"invalid --link {spec!r}: use NAME[:ALIAS]")
    return name, alias


def env_prefix(alias: str) -> str:
    return alias.upper().replace("-", "_")


def _ports(exposed: dict | None) -> list[tuple[int, str]]:
    """Exposed ports sorted as Docker sorts them: by number, tcp first on a tie."""
    out = []
    for key in exposed or {}:
        port, _, proto = key.partition("/")
        out.append((int(port), (proto or "tcp").lower()))
    return sorted(out, key=lambda p: (p[0], p[1] != "tcp"))


def link_env(consumer_name: str, alias: str, target_ip: str, exposed: dict | None,
             target_env: list[str] | None) -> list[str]:
    """Variables for one link, in Docker's order."""
    a = env_prefix(alias)
    ports = _ports(exposed)
    env = []
    if ports:
        port, proto = ports[0]
        env.append(f"{a}_PORT={proto}://{target_ip}:{port}")
    i = 0
    while i < len(ports):
        j = i
        # contiguous run of the same protocol: Docker reports it as a range too
        while j + 1 < len(ports) and ports[j + 1] == (ports[j][0] + 1, ports[i][1]):
            j += 1
        if j > i:
            p, proto = ports[i]
            q, qproto = ports[j]
            P = proto.upper()
            env += [f"{a}_PORT_{p}_{P}_START={proto}://{target_ip}:{p}",
                    f"{a}_PORT_{p}_{P}_ADDR={target_ip}",
                    f"{a}_PORT_{p}_{P}_PROTO={proto}",
                    f"{a}_PORT_{p}_{P}_PORT_START={p}",
                    f"{a}_PORT_{p}_{qproto.upper()}_END={qproto}://{target_ip}:{q}",
                    f"{a}_PORT_{p}_{qproto.upper()}_PORT_END={q}"]
            i = j + 1
        else:
            i += 1
    for p, proto in ports:
        P = proto.upper()
        env += [f"{a}_PORT_{p}_{P}={proto}://{target_ip}:{p}",
                f"{a}_PORT_{p}_{P}_ADDR={target_ip}",
                f"{a}_PORT_{p}_{P}_PORT={p}",
                f"{a}_PORT_{p}_{P}_PROTO={proto}"]
    env.append(f"{a}_NAME=/{consumer_name}/{alias}")
    for var in target_env or []:
        name, eq, val = var.partition("=")
        if not eq or name in ("HOME", "PATH"):
            continue
        env.append(f"{a}_ENV_{name}={val}")
    return env


def hosts_names(alias: str, target_hostname: str, target_name: str) -> list[str]:
    """Names on the consumer's hosts line: ALIAS TARGET-HOSTNAME [TARGET-NAME], the
    name left out when it equals the alias, as Docker does."""
    names = [alias, target_hostname]
    if target_name != alias:
        names.append(target_name)
    return names


def link_ports(exposed: dict | None) -> tuple[tuple[str, int, int], ...]:
    """A container's exposed ports as (proto, first, last): what a consumer linked to
    it may reach through icc=false."""
    return tuple((proto, p, p) for p, proto in _ports(exposed))
