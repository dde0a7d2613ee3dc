"""Image references as Docker parses them: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`.

The first component is a registry host when it contains a dot or a colon or is
`localhost`; otherwise the image lives on Docker Hub (`docker.io`), where a one-part
path means `library/PATH`. fabric keeps references in Docker's *familiar* form, the one
`docker images` shows: `busybox:latest`, `user/app:1`, `127.0.0.1:5000/lab/bb:1`,
`registry.example.com/a/b@sha256:...`. Standard library only: the CLI imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fabric.errors import InvalidArgument

DOCKER_HUB = "docker.io"
# Where Docker keeps Docker Hub's credentials in config.json.
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_RX = re.compile(_DOMAIN)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NAME_MAX = 255


@dataclass(frozen=True)
class Reference:
    domain: str          # "docker.io", "127.0.0.1:5000", "registry.example.com"
    path: str            # "library/busybox", "lab/bb"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The familiar repository name: `busybox`, `user/app`, `127.0.0.1:5000/lab/bb`."""
        if self.domain == DOCKER_HUB:
            return self.path.removeprefix("library/")
        return f"{self.domain}/{self.path}"

    @property
    def full_name(self) -> str:
        """The fully qualified repository: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    def familiar(self) -> str:
        """What fabric stores and shows: the name with its digest, else its tag."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"

    def qualified(self) -> str:
        """`docker.io/library/busybox:latest`: what `pull` prints last, as Docker does."""
        if self.digest:
            return f"{self.full_name}@{self.digest}"
        return f"{self.full_name}:{self.tag or 'latest'}"

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    @property
    def ident(self) -> str:
        """The tag or digest the registry is asked for."""
        return self.digest or self.tag or "latest"

    @property
    def auth_key(self) -> str:
        """The key of this registry's entry in a Docker config.json `auths` map."""
        return DOCKER_HUB_AUTH_KEY if self.domain == DOCKER_HUB else self.domain


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"
                  or first.lower() != first):
        return first, rest
    return DOCKER_HUB, name


def parse(ref: str) -> Reference:
    """Parse a reference; InvalidArgument with Docker's wording when it is not one."""
    s = ref.strip()
    if not s:
        raise InvalidArgument("invalid reference format: the image name is empty")
    name, at, digest = s.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise InvalidArgument(f"invalid reference format: {ref!r} has a malformed digest "
                              "(use NAME@sha256:<64 hex digits>)")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(f"invalid reference format: {ref!r} has a malformed tag")
    domain, path = _split_domain(name)
    if not _DOMAIN_RX.fullmatch(domain):
        raise InvalidArgument(f"invalid reference format: {domain!r} is not a registry host")
    if path.lower() != path and _PATH.fullmatch(path.lower()):
        raise InvalidArgument(f"invalid reference format: repository name must be lowercase "
                              f"({ref!r})")
    if not _PATH.fullmatch(path):
        raise InvalidArgument(f"invalid reference format: {ref!r} (use [HOST[:PORT]/]NAME"
                              "[:TAG][@DIGEST], lower-case)")
    if domain == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if len(domain) + 1 + len(path) > NAME_MAX:
        raise InvalidArgument(f"invalid reference format: repository name must not be more "
                              f"than {NAME_MAX} characters")
    # A digest pins the content: a tag beside it says nothing more (Docker drops it too).
    return Reference(domain, path, None if digest else tag, digest or None)


def is_digest(value: str) -> bool:
    return bool(_DIGEST.fullmatch(value))
