"""A small HTTP/1.1 server on a unix socket, shaped for Docker's Engine API.

One request per connection (the thin client never reuses them), so responses end by
closing the socket unless they carry a length. Streams (logs -f, stats) write raw chunks
until done; attach and exec hijack the connection as Docker does (101 UPGRADED).
"""

import json
import os
import re
import socket
import socketserver
import sys
import traceback
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fabric import API_VERSION
from fabric.errors import FabricError

_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(/.*)$")


class Request:
    def __init__(self, handler: "Handler", method: str, path: str, query: dict[str, str],
                 params: dict[str, str]):
        self.handler = handler
        self.method = method
        self.path = path
        self.query = query
        self.params = params
        self._body: bytes | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.handler.headers.get(name, default)

    @property
    def body(self) -> bytes:
        if self._body is None:
            n = int(self.header("Content-Length", "0") or 0)
            self._body = self.handler.rfile.read(n) if n else b""
        return self._body

    def body_stream(self):
        """The request body as a file; length-delimited or read until the client
        half-closes (uploads of archives can be large)."""
        n = self.header("Content-Length")
        if not n and self.header("Transfer-Encoding").lower() == "chunked":
            return _Chunked(self.handler.rfile)     # what the docker CLI sends (build)
        return _Limited(self.handler.rfile, int(n)) if n else self.handler.rfile

    def json(self) -> Any:
        b = self.body
        return json.loads(b) if b else {}

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.query.get(name)
        if v is None:
            return default
        return v.lower() in ("1", "true", "yes")

    def int(self, name: str, default: int | None = None) -> int | None:
        v = self.query.get(name)
        if v in (None, ""):
            return default
        try:
            return int(v)
        except ValueError:
            from fabric.errors import InvalidArgument
            raise InvalidArgument(f"query parameter {name}={v!r} is not a number") from None

    def hijack(self) -> socket.socket:
        """Switch the connection to a raw bidirectional stream (Docker's attach/exec)."""
        h = self.handler
        h.wfile.write(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream"
                      b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        h.wfile.flush()
        h.hijacked = True
        return h.connection

    def start_stream(self, content_type: str = "application/octet-stream"
                     ) -> Callable[[bytes], None]:
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Connection", "close")
        h.end_headers()
        h.hijacked = True

        def write(data: bytes) -> None:
            h.wfile.write(data)
            h.wfile.flush()
        return write


def close_hijacked(s: socket.socket) -> None:
    """End a connection taken over by Request.hijack(): both directions, then the socket."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


class _Limited:
    def __init__(self, f, n: int):
        self.f, self.left = f, n

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        if size < 0 or size > self.left:
            size = self.left
        data = self.f.read(size)
        self.left -= len(data)
        return data


class _Chunked:
    """An HTTP/1.1 chunked request body, decoded."""

    def __init__(self, f):
        self.f, self.left, self.done = f, 0, False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self.done and (size < 0 or len(out) < size):
            if self.left == 0:
                line = self.f.readline(1024)
                self.left = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if self.left == 0:           # the last chunk, then trailers to a blank line
                    while self.f.readline(1024).strip():
                        pass
                    self.done = True
                    break
            want = self.left if size < 0 else min(self.left, size - len(out))
            data = self.f.read(want)
            if not data:
                self.done = True
                break
            out += data
            self.left -= len(data)
            if self.left == 0:
                self.f.readline(1024)        # the CRLF after each chunk
        return bytes(out)


class Response:
    def __init__(self, status: int = 200, body: Any = None, raw: bytes | None = None,
                 content_type: str = "application/json", stream: Iterable[bytes] | None = None):
        self.status, self.body, self.raw = status, body, raw
        self.content_type, self.stream = content_type, stream


Route = tuple[str, re.Pattern, Callable[[Request], Any]]


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, fn: Callable[[Request], Any]) -> None:
        """`{name}` matches one path segment; `{name:path}` may hold slashes, as image
        names do (registry.example.org:5000/team/app:1), like Docker's router."""
        rx = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
        self.routes.append((method, re.compile("^" + rx + "$"), fn))

    def route(self, method: str, pattern: str):
        def deco(fn):
            self.add(method, pattern, fn)
            return fn
        return deco

    def match(self, method: str, path: str):
        allowed = False
        for m, rx, fn in self.routes:
            mo = rx.match(path)
            if mo:
                if m == method:
                    return fn, {k: unquote(v) for k, v in mo.groupdict().items()}
                allowed = True
        return None, allowed


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    router: Router
    server_version = "fabric"

    def address_string(self) -> str:
        return "unix"

    def log_message(self, fmt: str, *args: Any) -> None:
        if os.environ.get("FABRIC_DEBUG"):
            sys.stderr.write("api: " + fmt % args + "\n")

    def _dispatch(self) -> None:
        self.hijacked = False
        self.close_connection = True
        url = urlsplit(self.path)
        path = url.path
        mo = _VERSION_PREFIX.match(path)
        if mo:
            path = mo.group(1)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        fn, params = self.router.match(self.command, path)
        try:
            if fn is None:
                status = 405 if params else 404
                self._send(Response(status, {"message": f"page not found: {self.command} {path}"}))
                return
            result = fn(Request(self, self.command, path, query, params))
            if self.hijacked:
                return
            if not isinstance(result, Response):
                result = Response(200 if result is not None else 204, result)
            self._send(result)
        except FabricError as e:
            if not self.hijacked:
                self._send(Response(e.status, {"message": e.message, "kind": type(e).__name__}))
            else:
                sys.stderr.write(f"api: {self.command} {path}: {e.message}\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug: answer with the message, keep the trace in the log
            traceback.print_exc()
            if not self.hijacked:
                self._send(Response(500, {"message": f"internal error: {e}",
                                          "kind": "FabricError"}))

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _dispatch

    def _send(self, r: Response) -> None:
        if r.stream is not None:
            self.send_response(r.status)
            self.send_header("Content-Type", r.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in r.stream:
                self.wfile.write(chunk)
                self.wfile.flush()
            return
        data = r.raw if r.raw is not None else (
            b"" if r.status == 204 else json.dumps(r.body).encode())
        self.send_response(r.status)
        self.send_header("Content-Type", r.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)
