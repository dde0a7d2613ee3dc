"""A minimal HTTP client for the thin CLI, over a unix socket or TCP.

The standard library's http.client costs tens of milliseconds to import here (it pulls in
the email package); a request to our own daemon needs only a status line, a few headers
and a body, so this module speaks that much HTTP/1.1 on a plain socket. Where the
socket comes from is the transport's business: a unix socket in a host's root, TCP, or
TLS over TCP (fabric.client.tls, imported only when asked for: `ssl` is slow to import).
"""

import json
import re
import socket
from collections.abc import Iterator
from typing import Any, Protocol

from fabric import API_VERSION
from fabric.addresses import split_tcp

# urllib.parse costs a few milliseconds to import; ids, names and flags need no escaping.
_PLAIN = re.compile(r"^[A-Za-z0-9_.:/@-]*$")


def _quote(path: str) -> str:
    if _PLAIN.match(path):
        return path
    from urllib.parse import quote
    return quote(path)


def _query(q: dict) -> str:
    if all(_PLAIN.match(str(k)) and _PLAIN.match(str(v)) for k, v in q.items()):
        return "&".join(f"{k}={v}" for k, v in q.items())
    from urllib.parse import urlencode
    return urlencode(q)


class _DaemonSocket(socket.socket):
    """A socket to a daemon: a connection the daemon drops under a request (it died) is
    DaemonLost, which the CLI says in one line, not a traceback."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except ConnectionError as e:
            raise DaemonLost(e.errno, f"the connection was lost ({e.strerror})") from None

    def sendall(self, data, flags: int = 0) -> None:
        try:
            super().sendall(data, flags)
        except ConnectionError as e:
            raise DaemonLost(e.errno, f"the connection was lost ({e.strerror})") from None


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = ""):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class DaemonUnavailable(Exception):
    pass


class ConnectionFailed(DaemonUnavailable):
    """The daemon was reached but the connection failed for a reason worth saying as it
    is (a TLS handshake refused, a certificate not trusted)."""


class Response:
    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes):
        self.sock, self.status, self.headers, self._rest = sock, status, headers, rest

    def _raw(self) -> Iterator[bytes]:
        """The bytes after the head as they arrive, until the daemon closes."""
        if self._rest:
            yield self._rest
            self._rest = b""
        while chunk := self.sock.recv(65536):
            yield chunk

    def _dechunked(self) -> Iterator[bytes]:
        """A chunked body's data (the daemon chunks streams, as Go's server does)."""
        buf = b""
        raw = self._raw()
        while True:
            while b"\r\n" not in buf:
                more = next(raw, b"")
                if not more:
                    return
                buf += more
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                return
            while len(buf) < size + 2:
                more = next(raw, b"")
                if not more:
                    if buf:
                        yield buf[:size]
                    return
                buf += more
            yield buf[:size]
            buf = buf[size + 2:]

    def chunks(self) -> Iterator[bytes]:
        try:
            if "chunked" in self.headers.get("transfer-encoding", ""):
                yield from self._dechunked()
            else:
                yield from self._raw()
        finally:
            self.sock.close()

    def read(self) -> bytes:
        length = self.headers.get("content-length")
        if length is None:
            return b"".join(self.chunks())
        buf = bytearray(self._rest)
        self._rest = b""
        n = int(length)
        while len(buf) < n:
            chunk = self.sock.recv(max(65536, n - len(buf)))
            if not chunk:
                break
            buf += chunk
        self.sock.close()
        return bytes(buf)

    def json(self) -> Any:
        data = self.read()
        return json.loads(data) if data else None

    def raise_for_status(self) -> None:
        if self.status >= 400:
            data = self.read()
            try:
                doc = json.loads(data)
                raise ApiError(self.status, doc.get("message", ""), doc.get("kind", ""))
            except ValueError:
                raise ApiError(self.status, data.decode(errors="replace").strip()) from None


class Transport(Protocol):
    url: str

    def connect(self) -> socket.socket:
        """A connected stream socket; DaemonUnavailable when nothing answers."""
        ...

    def failed(self, e: OSError) -> DaemonUnavailable:
        """What to raise when the connection breaks while a request is under way."""
        ...


def _broken(url: str, e: OSError) -> DaemonUnavailable:
    return DaemonUnavailable(f"the connection to {url} broke: {e.strerror or e}")


class UnixTransport:
    def __init__(self, path: str):
        self.path = path
        self.url = f"unix://{path}"

    def connect(self) -> socket.socket:
        s = _DaemonSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            s.close()
            raise DaemonUnavailable(str(e)) from None
        return s

    def failed(self, e: OSError) -> DaemonUnavailable:
        return _broken(self.url, e)


class TcpTransport:
    """Plain HTTP over TCP, what `-H tcp://ADDR:PORT` reaches."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.url = f"tcp://{f'[{host}]' if ':' in host else host}:{port}"

    split = staticmethod(split_tcp)

    @classmethod
    def parse(cls, addr: str) -> "TcpTransport":
        return cls(*cls.split(addr))

    def open(self) -> socket.socket:
        """The TCP connection, still with the connect timeout."""
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            raise DaemonUnavailable(str(e)) from None

    def connect(self) -> socket.socket:
        s = self.open()
        s.settimeout(None)  # streams (logs -f, attach) wait as long as they need
        return s

    def failed(self, e: OSError) -> DaemonUnavailable:
        return _broken(self.url, e)


class Client:
    def __init__(self, where: "str | Transport"):
        """`where`: a unix socket's path, or a transport."""
        self.transport: Transport = UnixTransport(where) if isinstance(where, str) else where

    @property
    def url(self) -> str:
        return self.transport.url

    @property
    def socket_path(self) -> str | None:
        """The unix socket's path; None over TCP."""
        t = self.transport
        return t.path if isinstance(t, UnixTransport) else None

    def connect(self) -> socket.socket:
        return self.transport.connect()

    def request(self, method: str, path: str, query: dict | None = None, body: Any = None,
                data: bytes | None = None, upload=None, headers: dict | None = None,
                upgrade: bool = False) -> Response:
        q = {k: (("1" if v else "0") if isinstance(v, bool) else v)
             for k, v in (query or {}).items() if v is not None}
        target = f"/v{API_VERSION}{_quote(path)}" + (("?" + _query(q)) if q else "")
        hdrs = {"Host": "fabric"}
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if data is not None:
            hdrs["Content-Length"] = str(len(data))
        if upload is not None:
            hdrs["Transfer-Encoding"] = "chunked"
        if upgrade:
            hdrs["Connection"] = "Upgrade"
            hdrs["Upgrade"] = "tcp"
        hdrs.update(headers or {})
        s = self.connect()
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        try:
            s.sendall(head.encode() + b"\r\n" + (data or b""))
            if upload is not None:
                # A body of unknown length, chunked (a half-close would end a TLS session).
                try:
                    while chunk := upload.read(1 << 20):
                        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    s.sendall(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon refused part-way: its answer says why
            return self._read_head(s)
        except DaemonUnavailable:
            s.close()
            raise
        except OSError as e:
            s.close()
            raise self.transport.failed(e) from None

    @staticmethod
    def _read_head(s: socket.socket) -> Response:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise DaemonUnavailable("the daemon closed the connection without answering")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return Response(s, status, headers, rest)

    def call(self, method: str, path: str, query: dict | None = None, body: Any = None,
             **kw) -> Any:
        r = self.request(method, path, query, body, **kw)
        r.raise_for_status()
        return r.json()

    def get(self, path: str, **query) -> Any:
        return self.call("GET", path, query)

    def post(self, path: str, body: Any = None, **query) -> Any:
        return self.call("POST", path, query, body)

    def delete(self, path: str, **query) -> Any:
        return self.call("DELETE", path, query)


class DaemonLost(DaemonUnavailable, ConnectionResetError):
    """The daemon dropped the connection mid-request. Still a ConnectionResetError for
    the stream pumps that end on one."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()
