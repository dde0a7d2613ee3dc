"""A small HTTP/1.1 server shaped for Docker's Engine API, on any stream socket (the
listeners are in fabric.daemon.listeners).

One request per connection (the thin client never reuses them), so responses end by
closing the socket unless they carry a length. Streams (logs -f, stats, events) write
raw chunks until done; attach and exec hijack the connection as Docker does (101
UPGRADED). A client idle for `Handler.timeout` while sending its request is dropped;
once a stream or a hijacked connection starts, it may wait as long as it needs.
"""

import json
import os
import re
import socket
import sys
import traceback
from collections.abc import Callable, Generator, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fabric import API_VERSION
from fabric.daemon import bodies
from fabric.errors import FabricError, InvalidArgument
from fabric.socketwatch import peer_gone

_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
MIN_API_VERSION = "1.24"


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def check_version(major: str, minor: str) -> str:
    """Docker's answer to a client asking for an API version outside the served range."""
    v = f"{int(major)}.{int(minor)}"
    if _version(v) > _version(API_VERSION):
        raise InvalidArgument(f"client version {v} is too new. Maximum supported API "
                              f"version is {API_VERSION}")
    if _version(v) < _version(MIN_API_VERSION):
        raise InvalidArgument(f"client version {v} is too old. Minimum supported API "
                              f"version is {MIN_API_VERSION}, please upgrade your client "
                              "to a newer version")
    return v


class Request:
    def __init__(self, handler: "Handler", method: str, path: str, query: dict[str, str],
                 params: dict[str, str], version: str = API_VERSION):
        self.handler = handler
        self.method = method
        self.path = path
        self.query = query
        self.params = params
        self.version = version
        self._body: bytes | None = None
        self._stream = None

    def header(self, name: str, default: str = "") -> str:
        return self.handler.headers.get(name, default)

    @property
    def framed(self) -> bool:
        """Whether the request says where its body ends (a length, or chunks)."""
        h = self.handler.headers
        return "Content-Length" in h or "chunked" in h.get("Transfer-Encoding", "").lower()

    @property
    def body(self) -> bytes:
        """The whole body, for JSON: refused when over bodies.MAX_JSON_BODY; empty when
        the request does not frame one (fabric's client sends no length for no body)."""
        if self._body is None:
            n = self.header("Content-Length")
            if n.isdigit() and int(n) > bodies.MAX_JSON_BODY:
                raise bodies.TooLarge(f"request body of {n} bytes is over the limit of "
                                      f"{bodies.MAX_JSON_BODY >> 20} MiB")
            self._body = bodies.read_all(self.body_stream()) if self.framed else b""
        return self._body

    def body_stream(self):
        """The request body as a file: length-delimited, chunked, or, for an upload that
        frames neither, read until the client half-closes (fabric's client before it
        sent uploads chunked)."""
        if self._stream is None:
            h = self.handler
            n = h.headers.get("Content-Length")
            if "chunked" in self.header("Transfer-Encoding").lower():
                self._stream = bodies.Chunked(h.rfile)
            elif n is not None:
                if not n.strip().isdigit():
                    raise InvalidArgument(f"bad Content-Length {n[:20]!r}")
                self._stream = bodies.Limited(h.rfile, int(n))
            elif self.method in ("POST", "PUT") and not h.headers.get("Upgrade"):
                self._stream = h.rfile
            else:
                self._stream = bodies.Limited(h.rfile, 0)
        return self._stream

    def json(self) -> Any:
        b = self.body
        if not b.strip():
            return {}
        try:
            return json.loads(b)
        except ValueError as e:
            raise InvalidArgument(f"the request body is not valid JSON: {e}") from None

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
            raise InvalidArgument(f"query parameter {name}={v!r} is not a number") from None

    def hijack(self) -> socket.socket:
        """Switch the connection to a raw bidirectional stream (Docker's attach/exec)."""
        h = self.handler
        h.connection.settimeout(None)
        h.wfile.write(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream"
                      b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        h.wfile.flush()
        h.hijacked = True
        return h.connection

    def start_stream(self, content_type: str = "application/octet-stream"
                     ) -> Callable[[bytes], None]:
        """Send the head of a 200 answer now; the returned function writes the body on
        (the server ends it when the route returns)."""
        h = self.handler
        h.connection.settimeout(None)
        h.head(200, content_type, stream=True)
        h.hijacked = True
        return h.write_chunk


def close_hijacked(s: socket.socket) -> None:
    """End a connection taken over by Request.hijack(): both directions, then the socket."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


class Response:
    """An answer. A `stream` is written chunk by chunk as it yields; an empty chunk
    writes nothing but lets the server notice a client that went away (a generator
    waiting for something to happen should yield one now and then)."""

    def __init__(self, status: int = 200, body: Any = None, raw: bytes | None = None,
                 content_type: str = "application/json", stream: Iterable[bytes] | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.body, self.raw = status, body, raw
        self.content_type, self.stream = content_type, stream
        self.headers = headers or {}


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
        if method == "HEAD":    # a GET's head, as Go's router answers HEAD
            fn, params = self.match("GET", path)
            if fn is not None:
                return fn, params
        return None, allowed


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    router: Router
    server_version = "fabric"
    # Seconds a client may stay silent while sending its request (StreamRequestHandler
    # sets it on the socket); streams and hijacked connections clear it.
    timeout = 60

    def address_string(self) -> str:
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def log_message(self, fmt: str, *args: Any) -> None:
        if os.environ.get("FABRIC_DEBUG"):
            sys.stderr.write("api: " + fmt % args + "\n")

    def _dispatch(self) -> None:
        self.hijacked = False
        self.streaming = False
        self.close_connection = True
        url = urlsplit(self.path)
        path = url.path
        req = Request(self, self.command, path, {}, {})
        try:
            mo = _VERSION_PREFIX.match(path)
            if mo:
                req.version, path = check_version(mo.group(1), mo.group(2)), mo.group(3)
            req.path = path
            req.query = {k: v[-1] for k, v in
                         parse_qs(url.query, keep_blank_values=True).items()}
            fn, params = self.router.match(self.command, path)
            if fn is None:
                self._fail(req, 405 if params else 404,
                           {"message": f"page not found: {self.command} {path}"}, path)
                return
            req.params = params
            result = fn(req)
            if self.streaming:
                self.end_stream()
            if self.hijacked:
                return
            if not isinstance(result, Response):
                result = Response(200 if result is not None else 204, result)
            self._send(result)
            if self.streaming:
                self.end_stream()
        except FabricError as e:
            self._fail(req, e.status, {"message": e.message, "kind": type(e).__name__}, path)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        except Exception as e:  # a bug: answer with the message, keep the trace in the log
            traceback.print_exc()
            self._fail(req, 500, {"message": f"internal error: {e}", "kind": "FabricError"}, path)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _dispatch

    def _fail(self, req: Request, status: int, body: dict, path: str) -> None:
        # Once a head is out the answer cannot change: a stream just stops, with no
        # final chunk, so that the client sees it was cut short.
        if self.hijacked or self.streaming:
            sys.stderr.write(f"api: {self.command} {path}: {body['message']}\n")
            return
        # A body the route did not read is read away (up to a limit), before the answer
        # or, when it is too large to wait for, after: closing on unread data resets the
        # connection, and a client still sending (docker build's context) would see that
        # instead of the answer.
        try:
            if req.framed and status != 413:
                self._read_away(req)
            self._send(Response(status, body))
            if req.framed and status == 413:
                self._read_away(req)
        except OSError:
            pass

    @staticmethod
    def _read_away(req: Request) -> None:
        try:
            bodies.discard(req.body_stream())
        except FabricError:
            pass     # a body that cannot be framed (bad Content-Length): nothing to read

    def head(self, status: int, content_type: str, length: int | None = None,
             headers: dict[str, str] | None = None, stream: bool = False) -> None:
        """A response's head. A stream's body is chunked for HTTP/1.1 clients, as Go's
        server sends it (docker-py reads a stream that is not chunked as one document)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Api-Version", API_VERSION)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.chunked = stream and self.request_version == "HTTP/1.1"
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        if stream:
            self.wfile.flush()
            self.streaming = True

    def write_chunk(self, data: bytes) -> None:
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)
        self.wfile.flush()

    def end_stream(self) -> None:
        self.streaming = False
        if self.chunked:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass

    def _send(self, r: Response) -> None:
        if r.stream is not None:
            self._send_stream(r)
            return
        data = r.raw if r.raw is not None else (
            b"" if r.status in (204, 304) else json.dumps(r.body).encode())
        self.head(r.status, r.content_type, len(data), r.headers)
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_stream(self, r: Response) -> None:
        assert r.stream is not None
        it = iter(r.stream)
        self.connection.settimeout(None)
        self.head(r.status, r.content_type, headers=r.headers, stream=True)
        try:
            for chunk in it:
                if chunk:
                    self.write_chunk(chunk)
                elif peer_gone(self.connection):
                    return
        finally:
            if isinstance(it, Generator):
                it.close()      # its finally blocks run now, not when collected
