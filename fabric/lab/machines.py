"""`lab up`'s look at the hosts on other machines, before anything is made anywhere.

Each one's daemon is reached (its URL, its TLS files), and what the lab file says of
that machine (NIC addresses, routes, daemon settings), which fabric cannot make over
the API, is compared with what the daemon reports (`GET /fabric/host`). Any
difference, or a daemon that cannot be reached, is one line naming the file, the line
and the field (exit 125), and nothing is made.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from ipaddress import ip_interface, ip_network

from fabric.client.http import ApiError, ConnectionFailed, DaemonUnavailable
from fabric.errors import InvalidArgument
from fabric.lab import model, remote, source
from fabric.lab.errors import LabError
from fabric.lab.source import Path, Source

SET_THERE = "set it on that machine and restart its daemon: settings cannot be changed " \
            "over the API"


def check(lab: model.Lab) -> None:
    far = [h for h in lab.hosts if h.remote is not None]
    if not far:
        return
    src = source.read(lab.file)     # the lines that the errors name
    with ThreadPoolExecutor(max_workers=min(8, len(far)), thread_name_prefix="machine") as ex:
        found = list(ex.map(lambda h: _problem(src, lab, h), far))
    first = next((e for e in found if e is not None), None)
    if first is not None:
        raise first


def _problem(src: Source, lab: model.Lab, h: model.Host) -> LabError | None:
    try:
        _check(src, lab, h)
    except LabError as e:
        return e
    return None


def _check(src: Source, lab: model.Lab, h: model.Host) -> None:
    assert h.remote is not None
    where: Path = ("hosts", h.name, "remote")
    url = h.remote.url
    c = remote.client(url, h.remote.cert_path)
    try:
        doc = c.get("/fabric/host")
    except ConnectionFailed as e:       # TLS: refused, or a certificate not trusted
        at = where + ("cert-path",) if where + ("cert-path",) in src.lines else where
        raise src.error(at, remote.reason(e)) from None
    except (DaemonUnavailable, OSError) as e:
        raise src.error(where + ("url",), f"cannot reach {url}: {remote.reason(e)}") from None
    except ApiError as e:
        raise src.error(where + ("url",), f"{url} answers but not as a fabric daemon "
                        f"({e.status} for /fabric/host: {e.message})") from None
    _settings(src, h, doc.get("Settings") or {})
    _nics(src, h, doc.get("Interfaces") or [])
    _routes(src, h, doc.get("Routes") or [])
    users = [x for x in lab.containers_on(h.name) if model.DEFAULT_NETWORK in x.network_names]
    if users and not [n for n in c.get("/networks", filters='{"name": ["bridge"]}')
                      if n["Name"] == model.DEFAULT_NETWORK]:
        raise src.error(("containers", users[0].name), f"host {h.name}'s daemon at {url} "
                        "has no default bridge (its log there says why)")


def _same(key: str, a, b) -> bool:
    """Two values of a setting, as the daemon means them (addresses normalised)."""
    from fabric.network import settings
    try:
        pa, pb = (settings.parse({key: v}) for v in (a, b))
    except InvalidArgument:
        return False
    name = key.replace("-", "_")
    va, vb = asdict(pa)[name], asdict(pb)[name]
    if key in ("bip", "fixed-cidr") and va and vb:
        norm = ip_interface if key == "bip" else ip_network
        return norm(va) == norm(vb)
    return va == vb


def _settings(src: Source, h: model.Host, there: dict) -> None:
    url = h.remote.url if h.remote else ""
    for key, want in h.settings:
        have = there.get(key)
        if not _same(key, want, have):
            raise src.error(("hosts", h.name, "settings", key),
                            f"the daemon at {url} has {key} {_text(have)}, the file says "
                            f"{_text(want)}: {SET_THERE}")


def _text(v) -> str:
    return "unset" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _nics(src: Source, h: model.Host, interfaces: list[dict]) -> None:
    url = h.remote.url if h.remote else ""
    by_name = {i["Name"]: i for i in interfaces}
    for i, nic in enumerate(h.nics):
        at: Path = ("hosts", h.name, "nics", i)
        found = by_name.get(nic.ifname)
        if found is None:
            raise src.error(at, f"the machine at {url} has no interface {nic.ifname} "
                            f"(it has {', '.join(sorted(by_name))})")
        if nic.bridge and found.get("Master") != nic.bridge:
            raise src.error(at + ("bridge",), f"{nic.ifname} on {url} is not a port of "
                            f"{nic.bridge}")
        if nic.address is None:
            continue
        carrier = by_name.get(nic.carrier) or {}
        have = [ip_interface(a) for a in carrier.get("Addresses") or []]
        if nic.address not in have:
            shown = ", ".join(str(a) for a in have if a.version == 4) or "none"
            raise src.error(at + ("address",), f"{nic.carrier} on {url} has no address "
                            f"{nic.address} (it has {shown}); a remote host's addresses are "
                            "the machine's own: fabric checks them and makes none")


def _routes(src: Source, h: model.Host, table: list[dict]) -> None:
    url = h.remote.url if h.remote else ""
    have = {(r.get("Dst"), r.get("Gateway")) for r in table}
    for i, r in enumerate(h.routes):
        if (r.to, str(r.via)) not in have:
            raise src.error(("hosts", h.name, "routes", i), f"the machine at {url} has no "
                            f"route to {r.to} via {r.via}: add it there (host routes "
                            "cannot be added over the API)")
