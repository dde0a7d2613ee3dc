"""Find the daemon a command talks to, and start it when it may be started from here.

`-H X` (or $FABRIC_HOST when there is no -H) resolves, in this order:
  unix://PATH or /PATH   that socket;
  tcp://ADDR:PORT        HTTP over TCP; over TLS with --tlsverify/--tls (TlsOptions);
  local                  the machine itself (the root: --root, $FABRIC_ROOT or the default);
  NAME                   a host registered on this machine (fabric.host.registry):
                         `HOST`, `LAB.HOST`, or a bare `HOST` that exactly one lab has;
                         a lab host on another machine is its URL and TLS folder.
Anything else is one line listing the known hosts. A missing socket is only ever
started for the machine's root (in the caller's namespace, as always) or a registered
host (inside that host's namespace); never for a socket or address given outright.
"""

import os

from fabric.client.http import Client, ConnectionFailed, DaemonUnavailable, TcpTransport
from fabric.errors import FabricError
from fabric.paths import HostRoot


class TlsOptions:
    """TLS for tcp:// as the CLI's flags and environment ask for it: `verify` checks the
    daemon's certificate against the CA (and implies `tls`); files not given come from
    the certificate folder (`cert_path`, else $FABRIC_CERT_PATH, else ~/.fabric).
    A lab host on another machine is `TlsOptions(verify=True, cert_path=DIR)`."""

    __slots__ = ("verify", "tls", "cacert", "cert", "key", "cert_path")

    def __init__(self, verify: bool = False, tls: bool = False, cacert: str | None = None,
                 cert: str | None = None, key: str | None = None,
                 cert_path: str | None = None):
        self.verify, self.tls = verify, tls
        self.cacert, self.cert, self.key, self.cert_path = cacert, cert, key, cert_path

    @property
    def wanted(self) -> bool:
        return self.verify or self.tls

    @classmethod
    def from_env(cls, verify: bool = False, tls: bool = False, cacert: str | None = None,
                 cert: str | None = None, key: str | None = None) -> "TlsOptions":
        """Flags first, then $FABRIC_TLS_VERIFY (never DOCKER_*)."""
        env = os.environ.get("FABRIC_TLS_VERIFY", "").strip().lower()
        return cls(verify or env not in ("", "0", "false", "no"), tls, cacert, cert, key)


def transport_for(url: str, tls: TlsOptions | None = None):
    """The transport reaching a daemon's URL given outright (unix:// or tcp://)."""
    from fabric.client.http import UnixTransport
    if url.startswith("unix://"):
        return UnixTransport(url[len("unix://"):])
    addr = url[len("tcp://"):]
    if tls is not None and tls.wanted:
        from fabric.client.tls import TlsTransport
        return TlsTransport.for_address(addr, tls)
    return TcpTransport.parse(addr)


class Target:
    """Where a daemon answers, and whether and where it may be started."""

    __slots__ = ("client", "root", "netns")

    def __init__(self, client: Client, root: HostRoot | None = None, netns: str | None = None):
        self.client, self.root, self.netns = client, root, netns


def remote(url: str, cert_path: str | None = None) -> Client:
    """A client of a daemon on another machine, as a lab's `remote: {url, cert-path}`
    names it: tcp:// with mutual TLS from the folder's ca.pem, cert.pem and key.pem
    (plain TCP when no folder is given, for a daemon told --insecure-tcp)."""
    if not url.startswith("tcp://"):
        raise ValueError(f"bad remote URL {url!r}: use tcp://ADDR:PORT")
    tls = TlsOptions(verify=True, cert_path=cert_path) if cert_path else None
    return Client(transport_for(url, tls))


def resolve(host: str | None, root: str, tls: TlsOptions | None = None) -> Target:
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
            return Target(Client(transport_for(host, tls)))
        except ValueError as e:
            raise SystemExit(f"Error: {e}") from None
    from fabric.host import registry
    try:
        rec = registry.find(host)
    except FabricError as e:
        raise SystemExit(f"Error: {e.message}") from None
    if rec.url is not None:
        # a lab host on another machine: its daemon is reached, never started, from here
        try:
            return Target(remote(rec.url, rec.cert_path))
        except ValueError as e:
            raise SystemExit(f"Error: host {rec.name}: {e}") from None
    return Target(Client(rec.root.socket), rec.root, rec.netns)


def connect(host: str | None, root: str, timeout: float = 20.0,
            tls: TlsOptions | None = None) -> Client:
    return reach(resolve(host, root, tls), timeout)


def reach(target: Target, timeout: float = 20.0) -> Client:
    """The target's client once its daemon answers, starting the daemon if allowed."""
    client = target.client
    try:
        client.connect().close()
        return client
    except ConnectionFailed as e:
        raise SystemExit(f"Error: {e}") from None
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
