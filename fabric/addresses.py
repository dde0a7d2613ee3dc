"""TCP addresses as Docker writes them (`-H tcp://ADDR:PORT`), parsed once for the
client's transport and the daemon's listeners."""


def split_tcp(addr: str, default_port: int = 2375) -> tuple[str, int]:
    """ADDR:PORT, [V6ADDR]:PORT or ADDR; the port defaults to Docker's plain-HTTP 2375
    (2376 is TLS's). ValueError for anything else."""
    host, port, ok = addr, str(default_port), True
    if addr.startswith("["):
        host, bracket, rest = addr[1:].partition("]")
        ok = bool(bracket) and (not rest or rest.startswith(":"))
        port = rest[1:] if rest else port
    elif ":" in addr:
        host, _, port = addr.rpartition(":")
    if not ok or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad TCP address {addr!r}: use tcp://ADDR:PORT")
    return host, int(port)
