"""The hosts made on this machine, as files: each host's root is `<hosts dir>/<name>/`
and its record `<root>/host.json` = {"name", "lab", "netns", "created"}.

A lab host on another machine is registered too, so `-H LAB.HOST` reaches it: its
directory holds only its record, whose "netns" is null and whose "remote" is
{"url": "tcp://ADDR:PORT", "cert-path": DIR} (the daemon there, over mutual TLS).

A lab host is named `LAB.HOST`. A name given to `-H` resolves to a record here: the
exact name, or a bare `HOST` that exactly one lab has. Finding one costs a file read,
so `fabric -H h1 ps` pays nothing for hosts; standard library only, for that reason.
"""

import json
import os
import re

from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound
from fabric.paths import HostRoot, hosts_dir

LOCAL = "local"  # the machine itself, never a registered host
NETNS_PREFIX = "fabh-"
_PART = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
MAX_PART = 32
# sun_path holds 108 bytes; the daemon's socket sits in the root
_SOCKET_MAX = 107


def check_part(part: str, what: str = "host") -> None:
    if not _PART.match(part) or len(part) > MAX_PART:
        raise InvalidArgument(f"invalid {what} name {part!r}: use lower-case letters, digits, "
                              f"'-' and '_', starting with a letter or digit, at most "
                              f"{MAX_PART} characters")


def full_name(name: str, lab: str | None = None) -> str:
    """The registered name: `HOST`, or `LAB.HOST` for a lab's host; validated."""
    check_part(name)
    if name == LOCAL:
        raise InvalidArgument(f"{LOCAL!r} is the machine itself and cannot name a host")
    if lab is None:
        return name
    check_part(lab, "lab")
    return f"{lab}.{name}"


def well_formed(ref: str) -> bool:
    parts = ref.split(".")
    return len(parts) <= 2 and all(_PART.match(p) and len(p) <= MAX_PART for p in parts)


def netns_of(name: str) -> str:
    return NETNS_PREFIX + name


def root_of(name: str) -> HostRoot:
    root = HostRoot(os.path.join(hosts_dir(), name))
    if len(root.socket.encode()) > _SOCKET_MAX:
        raise InvalidArgument(f"host {name}: its socket path {root.socket} is longer than a "
                              f"unix socket allows; use a shorter name or FABRIC_HOSTS_DIR")
    return root


class Record:
    """What host.json says about a host, and where its root is. A host on another
    machine has a `url` (and the `cert_path` of its TLS files) and no namespace here
    (`netns` is "")."""

    __slots__ = ("name", "lab", "netns", "created", "root", "url", "cert_path")

    def __init__(self, name: str, lab: str | None, netns: str, created: float, root: HostRoot,
                 url: str | None = None, cert_path: str | None = None):
        self.name, self.lab, self.netns, self.created, self.root = name, lab, netns, created, root
        self.url, self.cert_path = url, cert_path

    def __repr__(self) -> str:
        return f"Record({self.name!r}, netns={self.netns!r}, root={self.root.path!r})"

    def to_json(self) -> dict:
        doc: dict = {"name": self.name, "lab": self.lab, "netns": self.netns or None,
                     "created": self.created}
        if self.url is not None:
            doc["remote"] = {"url": self.url, "cert-path": self.cert_path}
        return doc


def read(root: HostRoot) -> Record | None:
    """The record in a root; None when it has none (being made, or not a host)."""
    try:
        with open(root.host_file) as f:
            doc = json.load(f)
        remote = doc.get("remote") or {}
        return Record(doc["name"], doc.get("lab"), doc["netns"] or "", doc.get("created", 0),
                      root, remote.get("url"), remote.get("cert-path"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def add_remote(name: str, lab: str | None, url: str, cert_path: str | None,
               created: float) -> Record:
    """Register a host on another machine under `name` (`LAB.HOST`): a directory holding
    its record only. Conflict when the name is taken."""
    root = root_of(name)
    os.makedirs(hosts_dir(), mode=0o711, exist_ok=True)
    try:
        os.mkdir(root.path, mode=0o711)
    except FileExistsError:
        raise Conflict(f"host {name} already exists") from None
    rec = Record(name, lab, "", created, root, url, cert_path)
    write(rec)
    return rec


def write(record: Record) -> None:
    """Write a record whole: a reader sees the old one or the new one, never half."""
    tmp = f"{record.root.host_file}.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(record.to_json(), f)
        f.write("\n")
    os.rename(tmp, record.root.host_file)


def records() -> list[Record]:
    """Every registered host, by name."""
    try:
        names = sorted(os.listdir(hosts_dir()))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        rec = read(HostRoot(os.path.join(hosts_dir(), n)))
        if rec is not None:
            out.append(rec)
    return out


def find(ref: str) -> Record:
    """The host `ref` names: a registered name (`HOST`, `LAB.HOST`), or a bare `HOST`
    when exactly one lab has a host of that name. NotFound otherwise, in one line that
    lists the hosts there are."""
    try:
        return _find(ref)
    except PermissionError as e:
        raise FabricError(f"Got permission denied while trying to find host {ref}: "
                          f"{e.filename}: permission denied") from None


def _find(ref: str) -> Record:
    if well_formed(ref):
        rec = read(HostRoot(os.path.join(hosts_dir(), ref)))
        if rec is not None:
            return rec
    known = records()
    if "." not in ref:
        labbed = [r for r in known if r.lab is not None and r.name == f"{r.lab}.{ref}"]
        if len(labbed) == 1:
            return labbed[0]
        if labbed:
            raise NotFound(f"host {ref!r} is ambiguous: "
                           f"{', '.join(r.name for r in labbed)} (name one as LAB.HOST)")
    names = ", ".join([LOCAL] + [r.name for r in known])
    raise NotFound(f"no host {ref!r}; known hosts: {names}")
