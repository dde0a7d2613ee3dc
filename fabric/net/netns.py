"""Named network namespaces under /run/netns, as `ip netns` keeps them.

A namespace is referred to by name (`ctr1`, bind-mounted at /run/netns/ctr1) or by an
absolute path (/run/netns/ctr1, /proc/PID/ns/net). `None` always means the namespace
the calling process lives in, which for a daemon is its host's.
"""

import errno
import os

from fabric.errors import Conflict, InvalidArgument, NotFound

NETNS_DIR = "/run/netns"


def path(ns: str) -> str:
    if not ns:
        raise InvalidArgument("empty network namespace name")
    if ns.startswith("/"):
        return ns
    if "/" in ns or ns in (".", ".."):
        raise InvalidArgument(f"bad network namespace name {ns!r}")
    return os.path.join(NETNS_DIR, ns)


def name(ns: str) -> str | None:
    """The `ip netns` name of a namespace reference, or None when it has none
    (e.g. /proc/PID/ns/net), in which case commands must use nsenter."""
    if not ns.startswith("/"):
        return ns
    d, base = os.path.split(ns)
    return base if d in (NETNS_DIR, "/var/run/netns") else None


def exists(ns: str) -> bool:
    p = path(ns)
    # A file under /run/netns that is not a mount is a leftover of a failed create.
    return os.path.exists(p) and (not p.startswith(NETNS_DIR + "/") or os.path.ismount(p))


def create(ns: str) -> None:
    """Create a named namespace; Conflict if it already exists."""
    from pyroute2 import netns as pnetns  # 130 ms import: only where needed

    p = path(ns)
    if os.path.dirname(p) != NETNS_DIR:
        raise InvalidArgument(f"can only create named namespaces under {NETNS_DIR}: {ns}")
    if exists(ns):
        raise Conflict(f"network namespace {ns} already exists")
    try:
        pnetns.create(os.path.basename(p))
    except OSError as e:
        if e.errno == errno.EEXIST:
            raise Conflict(f"network namespace {ns} already exists") from e
        raise


def remove(ns: str) -> bool:
    """Unmount and unlink a named namespace; False when it was already gone.

    The namespace itself lives on while a process or an open fd holds it, exactly as
    with `ip netns delete`."""
    from pyroute2 import netns as pnetns

    p = path(ns)
    if not os.path.lexists(p):
        return False
    try:
        pnetns.remove(p)
    except FileNotFoundError:
        return False
    return True


def require(ns: str) -> str:
    p = path(ns)
    if not exists(ns):
        raise NotFound(f"network namespace {ns} does not exist")
    return p


def list_named() -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if exists(n))
    except FileNotFoundError:
        return []
