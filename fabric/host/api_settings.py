"""Where the daemon listens, with dockerd's option and daemon.json names:

  hosts       addresses to serve besides the root's own socket: unix:///PATH,
              tcp://ADDR:PORT (tcp://:2376 for every address)
  tlsverify   TCP clients must present a certificate signed by tlscacert
  tls         serve TCP over TLS without checking clients (only with insecure-tcp)
  tlscacert   the CA that signs clients   (default ca.pem in the certificate folder)
  tlscert     the daemon's certificate    (default server-cert.pem there)
  tlskey      the daemon's key            (default server-key.pem there)
  insecure-tcp  allow TCP without mutual TLS: whoever reaches the port is root here

Read from the root's settings.json (top-level keys), overridden by `fabric daemon`'s
options. Relative paths in settings.json are relative to the root. The certificate
folder is $FABRIC_CERT_PATH, else ~/.fabric (what `fabric tls init` fills).

The root's unix socket is always served, whatever `hosts` says: the CLI finds the
daemon there, and conmon's exit hooks report exits there.
"""

import json
import os
from dataclasses import dataclass, field

from fabric.addresses import split_tcp
from fabric.errors import InvalidArgument

KEYS = ("hosts", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "insecure-tcp")


@dataclass(frozen=True)
class Listen:
    scheme: str          # "unix" or "tcp"
    address: str         # a path, or a host
    port: int = 0

    @property
    def url(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.address}"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True)
class ApiSettings:
    listen: list[Listen] = field(default_factory=list)
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    insecure_tcp: bool = False

    @property
    def tcp(self) -> list[Listen]:
        return [x for x in self.listen if x.scheme == "tcp"]


def parse_host(spec: str, tls: bool) -> Listen:
    if spec.startswith("unix://"):
        path = spec[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"bad host {spec!r}: use unix:///ABSOLUTE/PATH")
        return Listen("unix", path)
    if spec.startswith("tcp://"):
        addr = spec[len("tcp://"):].rstrip("/")
        if addr.startswith(":"):
            addr = "0.0.0.0" + addr
        try:
            host, port = split_tcp(addr, 2376 if tls else 2375)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        return Listen("tcp", host, port)
    raise InvalidArgument(f"bad host {spec!r}: use unix:///PATH or tcp://ADDR:PORT")


def _flag(key: str, v) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise InvalidArgument(f"setting {key}: expected true or false, got {v!r}")


def read(settings_path: str) -> dict:
    """The API keys of a root's settings.json (paths made absolute against the root)."""
    try:
        with open(settings_path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read settings {settings_path}: {e}") from e
    out = {k: doc[k] for k in KEYS if doc.get(k) is not None}
    base = os.path.dirname(os.path.abspath(settings_path))
    for k in ("tlscacert", "tlscert", "tlskey"):
        if k in out:
            out[k] = os.path.join(base, os.path.expanduser(str(out[k])))
    return out


def load(settings_path: str, overrides: dict | None = None) -> ApiSettings:
    """Settings, then options; the daemon refuses TCP without mutual TLS unless told."""
    raw = read(settings_path)
    raw.update({k: v for k, v in (overrides or {}).items() if v not in (None, [], False)})
    return parse(raw)


def parse(raw: dict) -> ApiSettings:
    """The API keys of a settings dict (others are ignored: the network's are read by
    fabric.network.settings); InvalidArgument for what the daemon would refuse."""
    raw = {k: v for k, v in raw.items() if k in KEYS}
    if isinstance(raw.get("hosts"), str):
        raw["hosts"] = [raw["hosts"]]
    verify = _flag("tlsverify", raw.get("tlsverify", False))
    tls = verify or _flag("tls", raw.get("tls", False))
    listen = [parse_host(h, tls) for h in raw.get("hosts") or []]
    s = ApiSettings(listen, tls, verify, raw.get("tlscacert"), raw.get("tlscert"),
                    raw.get("tlskey"), _flag("insecure-tcp", raw.get("insecure-tcp", False)))
    if s.tcp and not s.tlsverify and not s.insecure_tcp:
        raise InvalidArgument(
            f"refusing to listen on {s.tcp[0].url} without mutual TLS: whoever reaches that "
            "port would control this host as root; give --tlsverify (with --tlscacert, "
            "--tlscert, --tlskey, or `fabric tls init` files in $FABRIC_CERT_PATH), or "
            "--insecure-tcp to accept that")
    return s
