"""`POST /auth` (`login`): check credentials against a registry, as dockerd does.

The daemon only checks them (with `skopeo login` into a throwaway auth file); keeping
them is the client's business, in its own config file (see fabric/client/credentials.py).
"""

from fabric.errors import InvalidArgument
from fabric.images import registry_access, skopeo
from fabric.images.archive import Work
from fabric.images.reference import DOCKER_HUB, DOCKER_HUB_AUTH_KEY


def registry_host(server: str) -> str:
    """`https://host:port/v1/`, `host:port` -> `host:port`; Docker Hub's key -> docker.io."""
    s = (server or "").strip()
    if not s or s.rstrip("/") == DOCKER_HUB_AUTH_KEY.rstrip("/"):
        return DOCKER_HUB
    s = s.split("://", 1)[-1]
    host = s.split("/", 1)[0]
    if not host:
        raise InvalidArgument(f"invalid registry address {server!r}")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def check(images, server: str, creds: registry_access.Credentials) -> dict:
    if not creds.username or not creds.password:
        raise InvalidArgument("Username and password are both required to log in")
    host = registry_host(server)
    with Work(images.root, "login") as w:
        acc = registry_access.access(images.root, host, registry_access.Credentials(), w.dir)
        flags = [f"--tls-verify={'false' if acc.insecure else 'true'}",
                 f"--authfile={acc.auth_file}", f"--username={creds.username}",
                 "--password-stdin"]
        if acc.cert_dir:
            flags.append(f"--cert-dir={acc.cert_dir}")
        scheme = "http(s)" if acc.insecure else "https"
        try:
            skopeo.run(["login", *flags, host], w.dir, input=creds.password, timeout=60)
        except skopeo.Unauthorized:
            raise skopeo.Unauthorized(f"login attempt to {scheme}://{host}/v2/ failed with "
                                      "status: 401 Unauthorized") from None
    return {"Status": "Login Succeeded", "IdentityToken": ""}
