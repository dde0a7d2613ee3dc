"""Find the daemon a command talks to, and start it when it may be started from here.

`-H X` (or $FABRIC_HOST when there is no -H) resolves, in this order:
  unix://PATH or /PATH   that socket;
  tcp://ADDR:PORT        plain HTTP over TCP;
  local                  the machine itself (the root: --root, $FABRIC_ROOT or the default);
  NAME                   a host registered on this machine (fabric.host.registry):
                         `HOST`, `LAB.HOST`, or a bare `HOST` that exactly one lab has.
Anything else is one line listing the known hosts. A missing socket is only ever
started for the machine's root (in the caller's namespace, as always) or a registered
host (inside that host's namespace); never for a socket or address given outright.
"""

import os

from fabric.client.http import Client, DaemonUnavailable, TcpTransport
from fabric.errors import FabricError
from fabric.paths import HostRoot


class Target:
    """Where a daemon answers, and whether and where it may be started."""

    __slots__ = ("client", "root", "netns")

    def __init__(self, client: Client, root: HostRoot | None = None, netns: str | None = None):
        self.client, self.root, self.netns = client, root, netns


def resolve(host: str | None, root: str) -> Target:
    host = host or os.environ.get("FABRIC_HOST")
    if not host or host == "local":
        r = HostRoot(root)
        return Target(Client(r.socket), r)
    if host.startswith("unix://"):
        return Target(Client(host[len("unix://"):]))
    if host.startswith("/"):
        return Target(Client(host))
    if host.startswith("tcp://"):
        try:
            return Target(Client(TcpTransport.parse(host[len("tcp://"):])))
        except ValueError as e:
            raise SystemExit(f"Error: {e}") from None
    from fabric.host import registry
    try:
        rec = registry.find(host)
    except FabricError as e:
        raise SystemExit(f"Error: {e.message}") from None
    return Target(Client(rec.root.socket), rec.root, rec.netns)


def connect(host: str | None, root: str, timeout: float = 20.0) -> Client:
    return reach(resolve(host, root), timeout)


def reach(target: Target, timeout: float = 20.0) -> Client:
    """The target's client once its daemon answers, starting the daemon if allowed."""
    client = target.client
    try:
        client.connect().close()
        return client
    except DaemonUnavailable:
        if target.root is None:
            raise SystemExit(f"Error: cannot connect to the fabric daemon at {client.url}. "
                             "Is it running?") from None
    except PermissionError:
        raise SystemExit(_denied(client.url, "connect: permission denied")) from None
    from fabric.host import daemon
    try:
        daemon.start(target.root, target.netns, timeout)
    except FabricError as e:
        raise SystemExit(f"Error: {e.message}") from None
    except PermissionError as e:
        # No daemon answers and this user may not start one (not root).
        raise SystemExit(_denied(client.url, "starting its daemon needs root "
                                 f"({e.filename or target.root.path}: permission denied)")) \
            from None
    return client


def _denied(url: str, why: str) -> str:
    """Docker's words for a socket or root this user may not use."""
    return f"Got permission denied while trying to connect to the fabric daemon socket at " \
           f"{url}: {why}"
