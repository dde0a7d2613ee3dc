"""The sockets the daemon serves: the root's unix socket, more unix sockets, and TCP,
plain (only when told `--insecure-tcp`) or with TLS.

The TLS handshake runs on the connection's own thread, never in the accept loop, so a
client that stalls or speaks plain HTTP delays nobody else. A plain-HTTP request on the
TLS port gets Go's answer (400, "Client sent an HTTP request to an HTTPS server."), so
a docker CLI without --tlsverify sees why.
"""

import os
import socket
import socketserver
import sys
from typing import TYPE_CHECKING

from fabric.errors import FabricError
from fabric.host.api_settings import ApiSettings, Listen

if TYPE_CHECKING:
    import ssl

HANDSHAKE_TIMEOUT = 10.0
_PLAIN_ON_TLS = (b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 b"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")


class UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128
    path = ""      # the socket's final name (it is bound under a temporary one)

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)


class TcpHTTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, listen: Listen, handler, tls: "ssl.SSLContext | None"):
        self.tls = tls
        self.address_family = socket.AF_INET6 if ":" in listen.address else socket.AF_INET
        super().__init__((listen.address, listen.port), handler)

    def finish_request(self, request, client_address) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        conn = _tls_accept(request, self.tls, client_address)
        if conn is None:
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def _tls_accept(conn: socket.socket, ctx: "ssl.SSLContext", peer) -> "ssl.SSLSocket | None":
    """The handshake, on the connection's thread; None (logged, answered when possible)
    when it fails."""
    import ssl
    conn.settimeout(HANDSHAKE_TIMEOUT)
    try:
        first = conn.recv(1, socket.MSG_PEEK)
        if first and first[0] != 0x16:     # not a TLS handshake record: plain HTTP?
            conn.sendall(_PLAIN_ON_TLS)
            _log(peer, "sent plain HTTP to the TLS port")
            _drain(conn)
            return None
        if not first:
            return None
        tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
    except OSError as e:
        _log(peer, f"TLS handshake failed: {e.strerror or e}")
        return None
    try:
        tls.do_handshake()
        return tls
    except ssl.SSLError as e:
        _log(peer, f"TLS handshake failed: {e.reason or e}")
    except OSError as e:
        _log(peer, f"TLS handshake failed: {e.strerror or e}")
    # TLS 1.3 clients send their request before they learn of the refusal: read it away,
    # or the close would be a reset that overtakes the alert saying why.
    _drain(tls)
    tls.close()
    return None


def _drain(s: socket.socket) -> None:
    """Read what the client sent, briefly, before the connection closes: unread data
    makes the close a reset, and the client would see that instead of the answer."""
    try:
        s.settimeout(1.0)
        socket.socket.shutdown(s, socket.SHUT_WR)
        while socket.socket.recv(s, 65536):
            pass
    except OSError:
        pass


def _log(peer, what: str) -> None:
    host = peer[0] if isinstance(peer, tuple) else peer
    print(f"api: client {host} {what}", file=sys.stderr, flush=True)


def server_tls(s: ApiSettings) -> "ssl.SSLContext | None":
    """The TLS context for TCP listeners, None for plain TCP (--insecure-tcp)."""
    if not s.tls:
        return None
    from fabric import tlsconf
    found = tlsconf.default_files(tlsconf.cert_dir(), server=True)
    files = tlsconf.Files(s.tlscacert or found.ca, s.tlscert or found.cert,
                          s.tlskey or found.key)
    try:
        return tlsconf.server_context(files, s.tlsverify)
    except (ValueError, OSError) as e:
        raise FabricError(f"TLS: {e}") from None


def open_extra(s: ApiSettings, root_socket: str,
               handler) -> "list[UnixHTTPServer | TcpHTTPServer]":
    """Bind every listener `hosts` names besides the root's socket; all or none."""
    servers: list[UnixHTTPServer | TcpHTTPServer] = []
    tls = server_tls(s) if s.tcp else None
    try:
        for listen in s.listen:
            if listen.scheme == "tcp":
                servers.append(TcpHTTPServer(listen, handler, tls))
            elif os.path.abspath(listen.address) != os.path.abspath(root_socket):
                servers.append(bind_unix(listen.address, handler))
    except OSError as e:
        for srv in servers:
            srv.server_close()
        raise FabricError(f"cannot listen on {listen.url}: {e.strerror or e}") from None
    return servers


def bind_unix(path: str, handler) -> UnixHTTPServer:
    """Bind under a temporary name and rename, so a client never sees a socket that
    does not accept yet."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    tmp = path + f".{os.getpid()}"
    server = UnixHTTPServer(tmp, handler, bind_and_activate=False)
    try:
        server.server_bind()
        server.server_activate()
        os.chmod(tmp, 0o660)
        os.rename(tmp, path)
    except OSError:
        server.server_close()
        raise
    server.server_address = server.path = path
    return server


def unlink_if_ours(server: UnixHTTPServer) -> None:
    """Remove the socket file unless another daemon has put its own there since."""
    path = server.path
    try:
        if os.path.exists(path) and os.stat(path).st_ino == os.fstat(
                server.socket.fileno()).st_ino:
            os.unlink(path)
    except OSError:
        pass
