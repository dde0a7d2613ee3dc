"""What a lab file says about hosts on other machines and about daemons' API settings,
checked when it is read (nothing is reached yet; `machines.py` asks the daemons).

- `remote: {url: tcp://ADDR:PORT, cert-path: DIR}` puts a host on another machine: its
  daemon is reached over TCP with mutual TLS (DIR holds ca.pem, cert.pem and key.pem,
  as `fabric tls init` makes them; default $FABRIC_CERT_PATH or ~/.fabric). Its NICs,
  routes and settings are that machine's own: `lab up` checks them and makes nothing,
  so what cannot be made over the API (impairment, a segment joining it to a namespace
  host, a network joined through this machine's cluster store) is refused here.
- A namespace host's `settings` may hold the daemon's API keys (`hosts`, `tlsverify`,
  `tlscacert`, ...: dockerd's names), so a lab's hosts can serve TCP with TLS as the
  seeds' machines do. Relative paths are relative to the lab file.

Every problem is one LabError naming the file, the line and the field.
"""

import os
from typing import Any

from fabric.errors import InvalidArgument
from fabric.lab import model, slices
from fabric.lab.source import Path, Source

CERT_FILES = ("ca.pem", "cert.pem", "key.pem")
TLS_FILES = ("tlscacert", "tlscert", "tlskey")
ANY_ADDRESS = ("0.0.0.0", "::", "127.0.0.1", "::1", "localhost")


def remote(src: Source, raw: dict, where: Path, base: str) -> model.Remote:
    from fabric.client.http import TcpTransport
    url = str(raw["url"])
    if not url.startswith("tcp://"):
        raise src.error(where + ("url",), f"'{url}': a remote host is reached over TCP "
                        "with TLS: use tcp://ADDR:PORT")
    try:
        host, port = TcpTransport.split(url[len("tcp://"):].rstrip("/"), 2376)
    except ValueError as e:
        raise src.error(where + ("url",), str(e)) from None
    if "cert-path" in raw:
        folder = os.path.join(base, os.path.expanduser(str(raw["cert-path"])))
        at: Path = where + ("cert-path",)
    else:
        from fabric.tlsconf import cert_dir
        folder, at = cert_dir(), where
    _cert_folder(src, os.path.normpath(folder), at)
    shown = f"[{host}]" if ":" in host else host
    return model.Remote(f"tcp://{shown}:{port}", os.path.normpath(folder))


def _cert_folder(src: Source, folder: str, where: Path) -> None:
    """The client's TLS files are there and load (a key that does not match its
    certificate, a file that holds no certificate)."""
    import ssl

    from fabric import tlsconf
    if not os.path.isdir(folder):
        raise src.error(where, f"no folder {folder} (`fabric tls init DIR` makes one with "
                        f"{', '.join(CERT_FILES)})")
    paths = [os.path.join(folder, n) for n in CERT_FILES]
    for name, path in zip(CERT_FILES, paths):
        if not os.path.isfile(path):
            raise src.error(where, f"{folder} has no {name} (a remote host needs "
                            f"{', '.join(CERT_FILES)})")
    try:
        tlsconf.client_context(tlsconf.Files(*paths), verify=True)
    except ssl.SSLError as e:
        raise src.error(where, f"cannot load the TLS files in {folder}: one is not a PEM "
                        f"certificate or key, or key.pem is not cert.pem's key ({e})") from None
    except (OSError, ValueError) as e:
        raise src.error(where, f"cannot load the TLS files in {folder}: {e}") from None


def split_settings(src: Source, raw: dict, where: Path, base: str,
                   nics: tuple[model.Nic, ...], remote: bool
                   ) -> tuple[dict, tuple[tuple[str, Any], ...]]:
    """(the network settings, the API settings checked and with absolute paths)."""
    from fabric.host import api_settings
    api = {k: v for k, v in raw.items() if k in api_settings.KEYS}
    network = {k: v for k, v in raw.items() if k not in api}
    if not api:
        return network, ()
    if remote:
        key = next(iter(api))
        raise src.error(where + (key,), "a remote host's daemon is reached at its "
                        "`remote.url`; its API settings are that machine's own")
    if isinstance(api.get("hosts"), str):
        api["hosts"] = [api["hosts"]]
    for key in TLS_FILES:
        if key in api:
            path = os.path.normpath(os.path.join(base, os.path.expanduser(str(api[key]))))
            if not os.path.isfile(path):
                raise src.error(where + (key,), f"no file {path}")
            api[key] = path
    try:
        parsed = api_settings.parse(api)
    except InvalidArgument as e:
        key = "hosts" if "hosts" in api else next(iter(api))
        raise src.error(where + (key,), e.message) from None
    own = {str(n.address.ip) for n in nics if n.address is not None}
    for i, listen in enumerate(parsed.tcp):
        if listen.address not in own and listen.address not in ANY_ADDRESS:
            raise src.error(where + ("hosts", i), f"{listen.address} is not an address of "
                            f"this host (its NICs: {', '.join(sorted(own)) or 'none'})")
    return network, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in api.items())


def check(src: Source, lab: model.Lab) -> None:
    """The rules for a lab with hosts on other machines (nothing when it has none)."""
    far = {h.name: h.remote for h in lab.hosts if h.remote is not None}
    if not far:
        return
    seen: dict[str, str] = {}
    for name, where in far.items():
        if where.url in seen:
            raise src.error(("hosts", name, "remote", "url"), f"{where.url} is already "
                            f"host '{seen[where.url]}' (one daemon, one host)")
        seen[where.url] = name
    for seg in lab.segments:
        _segment(src, lab, seg)
    for h in lab.hosts:
        for i, nic in enumerate(h.nics):
            if h.remote and nic.impair:
                raise src.error(_impaired(src, ("hosts", h.name, "nics", i)),
                                _NO_IMPAIR.format(what=f"host '{h.name}'"))
    for net in lab.networks:
        members = [m for m in net.hosts if m in far]
        if members and slices.sliced(net):
            raise src.error(("networks", net.name), f"driver '{net.driver}' joins its "
                            "hosts through the cluster store the lab keeps on this "
                            f"machine, which remote host '{members[0]}' cannot reach "
                            "(leave it out of the network's `hosts:`)")
    for e in lab.expect:
        _expectation(src, lab, e)


_NO_IMPAIR = ("impairment is made in this machine's namespaces, and {what} is on "
              "another machine")


def _impaired(src: Source, where: Path) -> Path:
    """The first impairment key written under `where`."""
    key = next((k for k in ("rate", "loss", "delay", "jitter") if where + (k,) in src.lines),
               None)
    return where + (key,) if key else where


def _segment(src: Source, lab: model.Lab, seg: model.Segment) -> None:
    on = lab.on_segment(seg.name)
    far = [h.name for h in on if h.remote]
    near = [h.name for h in on if not h.remote]
    if far and near:
        raise src.error(("segments", seg.name), f"segment '{seg.name}' joins namespace "
                        f"host '{near[0]}' and remote host '{far[0]}': a segment made on "
                        "this machine cannot reach another machine's network")
    if far and seg.impair:
        raise src.error(_impaired(src, ("segments", seg.name)),
                        _NO_IMPAIR.format(what=f"segment '{seg.name}' (its hosts' network)"))


def machine_of(lab: model.Lab, name: str) -> model.Host | None:
    """The host a host or container name lives on."""
    c = lab.container(name)
    return lab.host(c.host if c is not None else name)


def _expectation(src: Source, lab: model.Lab, e: model.Expectation) -> None:
    """A probe from a remote host is sent by that host's daemon, so what it watches
    (`via`) and its `bytes` sink must be on that host; a probe sent from here cannot
    watch or sink on another machine."""
    sender = machine_of(lab, e.src)
    assert sender is not None
    where: Path = ("expect", e.index)
    for v in e.via:
        name, colon, _ = v.partition(":")
        if not colon:
            seg = lab.segment(v)
            if seg is not None and not lab.made_here(seg):
                raise src.error(where + ("via",), f"segment '{v}' is the remote hosts' own "
                                "network: there is no bridge of fabric's to watch on it")
            continue
        _same_machine(src, where + ("via",), lab, sender, machine_of(lab, name), v)
    if e.nbytes is not None:
        target = e.dst.partition("@")[0].partition(":")[0]
        _same_machine(src, where + ("to",), lab, sender, machine_of(lab, target),
                      f"the sink on {target}")


def _same_machine(src: Source, where: Path, lab: model.Lab, sender: model.Host,
                  other: model.Host | None, what: str) -> None:
    if other is None or other is sender or not (sender.remote or other.remote):
        return
    home = f"remote host '{sender.name}'" if sender.remote else "this machine"
    raise src.error(where, f"{what} is on another machine than the probe's sender "
                    f"({home}): a probe watches and sinks only on the machine that sends it "
                    "(a remote host's own daemon sends its probes)")
