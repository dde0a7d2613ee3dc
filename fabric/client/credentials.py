"""Registry credentials on the client side, in Docker's config.json format.

fabric keeps what `fabric login` stores in its own file, `$FABRIC_CONFIG/config.json`
(default `~/.fabric/config.json`, mode 0600): `{"auths": {"HOST[:PORT]": {"auth":
base64("user:password")}}}`, exactly Docker's layout. Looking credentials up, fabric's
file comes first, then Docker's own (`$DOCKER_CONFIG/config.json`, default
`~/.docker/config.json`), including its credential helpers (`credsStore`,
`credHelpers`: `docker-credential-NAME get`), so a `docker login` works for fabric too.
fabric never writes Docker's file. Like Docker's CLI, fabric sends the credentials with
each pull or push (the `X-Registry-Auth` header); the daemon keeps none.

Standard library only: `run` imports this to pull a missing image.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

from fabric.images.reference import DOCKER_HUB_AUTH_KEY as HUB_KEY


def fabric_config() -> str:
    base = os.environ.get("FABRIC_CONFIG") or os.path.join(os.path.expanduser("~"), ".fabric")
    return os.path.join(base, "config.json")


def docker_config() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def server_key(server: str | None) -> str:
    """The `auths` key for a registry: `host[:port]`, or Docker Hub's historic URL."""
    s = (server or "").strip()
    if not s or s in ("docker.io", "index.docker.io", "registry-1.docker.io") or \
            s.rstrip("/") == HUB_KEY.rstrip("/"):
        return HUB_KEY
    return s.split("://", 1)[-1].split("/", 1)[0]


def registry_of(image: str) -> str:
    """The credentials key of the registry an image reference names."""
    from fabric.errors import InvalidArgument
    from fabric.images.reference import parse  # noqa: I001 - only when pulling
    try:
        return parse(image).auth_key
    except InvalidArgument:
        return HUB_KEY


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _from_auths(doc: dict, key: str) -> dict | None:
    for k, v in (doc.get("auths") or {}).items():
        if server_key(k) != key or not isinstance(v, dict):
            continue
        if v.get("identitytoken"):
            return {"identitytoken": v["identitytoken"], "serveraddress": key}
        raw = v.get("auth")
        if raw:
            try:
                user, _, password = base64.b64decode(raw).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return {"username": user, "password": password, "serveraddress": key}
    return None


def _from_helper(doc: dict, key: str) -> dict | None:
    helper = (doc.get("credHelpers") or {}).get(key) or doc.get("credsStore")
    if not helper:
        return None
    try:
        p = subprocess.run([f"docker-credential-{helper}", "get"], input=key,
                           capture_output=True, text=True, timeout=30)
        out = json.loads(p.stdout) if p.returncode == 0 else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if not isinstance(out, dict) or not out.get("Secret"):
        return None
    if out.get("Username") == "<token>":
        return {"identitytoken": out["Secret"], "serveraddress": key}
    return {"username": out.get("Username", ""), "password": out["Secret"],
            "serveraddress": key}


def lookup(server: str) -> dict | None:
    key = server_key(server)
    found = _from_auths(_load(fabric_config()), key)
    if found:
        return found
    docker = _load(docker_config())
    return _from_auths(docker, key) or _from_helper(docker, key)


def header(server: str) -> dict:
    """The X-Registry-Auth header for a registry, or none when no credentials are kept."""
    creds = lookup(server)
    if not creds:
        return {}
    raw = json.dumps(creds).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(raw).decode()}


def store(server: str, username: str, password: str) -> str:
    """Keep credentials in fabric's file (written whole, then renamed); its path."""
    path = fabric_config()
    doc = _load(path)
    auths = doc.setdefault("auths", {})
    key = server_key(server)
    for k in [k for k in auths if server_key(k) == key]:
        del auths[k]
    auths[key] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    _write(path, doc)
    return path


def erase(server: str) -> bool:
    path = fabric_config()
    doc = _load(path)
    auths = doc.get("auths") or {}
    keys = [k for k in auths if server_key(k) == server_key(server)]
    for k in keys:
        del auths[k]
    if keys:
        _write(path, doc)
    return bool(keys)


def _write(path: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent="\t")
    os.replace(tmp, path)
