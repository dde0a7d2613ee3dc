"""/etc/hosts, /etc/hostname and /etc/resolv.conf, written per container the way Docker
writes them and bind-mounted into it, so fabric can rewrite them as peers change."""

import os

HOSTS_HEADER = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def _atomic_write(path: str, text: str) -> None:
    # Rewrite in place: the file is bind-mounted, so a rename would leave the container
    # looking at the old inode.
    if os.path.exists(path):
        with open(path, "r+") as f:
            f.seek(0)
            f.write(text)
            f.truncate()
    else:
        with open(path, "w") as f:
            f.write(text)


def hosts_text(own: list[tuple[str, list[str]]], extra: list[tuple[str, list[str]]]) -> str:
    """own: this container's addresses with its names; extra: --add-host and links."""
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


def write(cdir: str, hostname: str, hosts: str, resolv: str) -> dict[str, str]:
    paths = {"hostname": os.path.join(cdir, "hostname"), "hosts": os.path.join(cdir, "hosts"),
             "resolv.conf": os.path.join(cdir, "resolv.conf")}
    _atomic_write(paths["hostname"], hostname + "\n")
    _atomic_write(paths["hosts"], hosts)
    _atomic_write(paths["resolv.conf"], resolv)
    return paths
