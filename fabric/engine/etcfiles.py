"""/etc/hosts, /etc/hostname and /etc/resolv.conf, written per container the way Docker
writes them and bind-mounted into it, so fabric can rewrite them as peers change.

/etc/hosts in Docker's order: localhost lines, --add-host lines, then the names the
network core says the container resolves (--link targets, peers on user-defined
networks), then the container's own addresses.
"""

import os

HOSTS_HEADER = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def _in_place(path: str, text: str) -> None:
    # The file is bind-mounted: a rename would leave the container looking at the old
    # inode, so its content is replaced where it is.
    with open(path, "r+") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def _write(path: str, text: str) -> None:
    try:
        _in_place(path, text)
    except FileNotFoundError:
        with open(path, "w") as f:
            f.write(text)


Line = tuple[str, list[str]]   # address, names


def extra_hosts(specs: list[str] | None) -> list[Line]:
    """--add-host HOST:IP (IPv6 as HOST:fe80::1 or HOST:[fe80::1])."""
    out = []
    for spec in specs or []:
        host, _, ip = spec.partition(":")
        if spec.count(":") > 1 and not ip.startswith("["):
            host, ip = spec.split(":", 1)
        out.append((ip.strip("[]"), [host]))
    return out


def merge(lines: list[Line]) -> list[Line]:
    """Drop exact repeats, keep the first occurrence's place."""
    seen, out = set(), []
    for ip, names in lines:
        key = (ip, tuple(names))
        if key not in seen:
            seen.add(key)
            out.append((ip, names))
    return out


def hosts_text(own: list[Line], extra: list[Line]) -> str:
    """own: this container's addresses with its names; extra: --add-host and the
    names it resolves."""
    lines = [HOSTS_HEADER.rstrip("\n")]
    for ip, names in extra:
        lines.append(f"{ip}\t{' '.join(names)}")
    for ip, names in own:
        lines.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def resolv_text(dns: list[str], search: list[str], options: list[str],
                host_resolv: str = "/etc/resolv.conf") -> str:
    """Docker's rule: the user's --dns wins; otherwise the host's servers minus loopback
    ones (unreachable from the container's namespace)."""
    servers, h_search, h_opts = [], [], []
    try:
        with open(host_resolv) as f:
            for ln in f:
                parts = ln.split()
                if not parts or parts[0].startswith("#"):
                    continue
                if parts[0] == "nameserver" and len(parts) > 1:
                    servers.append(parts[1])
                elif parts[0] in ("search", "domain"):
                    h_search = parts[1:]
                elif parts[0] == "options":
                    h_opts = parts[1:]
    except OSError:
        pass
    if not dns:
        dns = [s for s in servers if not s.startswith("127.") and s != "::1"]
    lines = []
    if search or h_search:
        lines.append("search " + " ".join(search or h_search))
    lines += [f"nameserver {s}" for s in dns]
    if options or h_opts:
        lines.append("options " + " ".join(options or h_opts))
    return "\n".join(lines) + "\n"


def rewrite_hosts(path: str, text: str) -> None:
    """A running container's /etc/hosts, in place; nothing when it has none (yet)."""
    try:
        _in_place(path, text)
    except FileNotFoundError:
        pass


def write(cdir: str, hostname: str, hosts: str, resolv: str) -> dict[str, str]:
    paths = {"hostname": os.path.join(cdir, "hostname"), "hosts": os.path.join(cdir, "hosts"),
             "resolv.conf": os.path.join(cdir, "resolv.conf")}
    _write(paths["hostname"], hostname + "\n")
    _write(paths["hosts"], hosts)
    _write(paths["resolv.conf"], resolv)
    return paths
