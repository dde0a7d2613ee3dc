"""What goes into a container's /etc/hosts besides localhost: Docker's order.

--add-host lines first, then --link lines (default bridge), then the peers on each
user-defined network (Docker answers those from its embedded DNS; fabric writes them
here and rewrites the file as peers come and go), then the container's own addresses.
"""

from fabric.network import links as linkmod


def extra_hosts(specs: list[str] | None) -> list[tuple[str, list[str]]]:
    out = []
    for spec in specs or []:
        host, _, ip = spec.partition(":")
        if spec.count(":") > 1 and not ip.startswith("["):
            host, ip = spec.split(":", 1)  # IPv6: host:fe80::1
        out.append((ip.strip("[]"), [host]))
    return out


def link_lines(links: list[tuple[str, str, dict | None, str | None]],
               ) -> list[tuple[str, list[str]]]:
    """links: (alias, target name, target doc, target ip on the default bridge)."""
    out = []
    for alias, name, target, ip in links:
        if target is None or not ip:
            continue
        hostname = target["Config"].get("Hostname") or target["Id"][:12]
        out.append((ip, linkmod.hosts_names(alias, hostname, name)))
    return out


def merge(lines: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """Drop exact repeats, keep the first occurrence's place."""
    seen, out = set(), []
    for ip, names in lines:
        key = (ip, tuple(names))
        if key not in seen:
            seen.add(key)
            out.append((ip, names))
    return out
