"""How to reach one registry: TLS or not, which CA certificates, which credentials.

Docker's rules, with Docker's configuration places:

- A registry is *insecure* (HTTPS without verification, falling back to plain HTTP)
  when `insecure-registries` in the host root's `settings.json` lists it (`HOST:PORT`
  or a CIDR), or when it is on a loopback address (`127.0.0.0/8`, `::1`, `localhost`),
  which dockerd treats as insecure by default.
- CA certificates and client certificates for a registry sit in a directory named after
  it, `/etc/docker/certs.d/HOST:PORT/` (`ca.crt`, `client.cert`, `client.key`); skopeo
  reads it there by itself. fabric's own equivalent, `<root>/certs.d/HOST:PORT/`, is
  used instead when it exists: one machine's lab hosts can each trust their own CAs.
- Credentials arrive with each request, as Docker's clients send them (the
  `X-Registry-Auth` header): the daemon never reads a credentials file of its own. They
  reach skopeo in a private auth file, never on a command line other users could read.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import tempfile
from dataclasses import dataclass

from fabric.errors import InvalidArgument
from fabric.paths import HostRoot

CERTS_DIR = "certs.d"


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.identity_token)


def credentials_from_header(value: str | None) -> Credentials:
    """Docker's X-Registry-Auth: base64url of {"username", "password", ...}."""
    if not value:
        return Credentials()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidArgument("X-Registry-Auth header is not base64-encoded JSON") from None
    if not isinstance(doc, dict):
        return Credentials()
    return Credentials(str(doc.get("username") or ""), str(doc.get("password") or ""),
                       str(doc.get("identitytoken") or ""))


def _insecure_entries(root: HostRoot) -> list[str]:
    try:
        with open(root.settings) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read settings {root.settings}: {e}") from None
    return insecure_entries(doc.get("insecure-registries") if isinstance(doc, dict) else None)


def insecure_entries(entries: object) -> list[str]:
    """The `insecure-registries` setting checked: HOST:PORT or CIDR strings."""
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise InvalidArgument("setting insecure-registries: expected a list of HOST:PORT or "
                              "CIDR strings")
    for entry in entries:
        if "/" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise InvalidArgument(f"setting insecure-registries: {entry!r} is neither "
                                      "HOST:PORT nor a CIDR") from None
    return entries


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def is_insecure(root: HostRoot, host: str) -> bool:
    ip = _host_ip(host)
    if host.split(":")[0] == "localhost" or (ip is not None and ip.is_loopback):
        return True
    for entry in _insecure_entries(root):
        if entry == host:
            return True
        if "/" in entry and ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                raise InvalidArgument(f"setting insecure-registries: {entry!r} is neither "
                                      "HOST:PORT nor a CIDR") from None
    return False


@dataclass
class Access:
    """skopeo's options for one registry; `flags(prefix)` for `--src-`/`--dest-`."""

    host: str
    insecure: bool
    cert_dir: str | None
    auth_file: str

    def flags(self, prefix: str = "") -> list[str]:
        out = [f"--{prefix}tls-verify={'false' if self.insecure else 'true'}",
               f"--{prefix}authfile={self.auth_file}"]
        if self.cert_dir:
            out.append(f"--{prefix}cert-dir={self.cert_dir}")
        return out


def access(root: HostRoot, host: str, creds: Credentials, workdir: str) -> Access:
    """The options for `host`; the auth file is written under workdir (mode 0600), so
    it goes with the operation's scratch directory."""
    cert_dir = os.path.join(root.path, CERTS_DIR, host)
    auths: dict = {}
    if creds.identity_token:
        auths[host] = {"identitytoken": creds.identity_token}
    elif not creds.empty:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        auths[host] = {"auth": token}
    fd, path = tempfile.mkstemp(prefix="auth-", suffix=".json", dir=workdir)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": auths}, f)
    return Access(host, is_insecure(root, host),
                  cert_dir if os.path.isdir(cert_dir) else None, path)
