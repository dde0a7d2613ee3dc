"""Request bodies: length-delimited, chunked (what Go's client sends for a body of
unknown length, e.g. `docker load`), or read until the client half-closes (what
fabric's own client did for uploads before it sent them chunked).
"""

from typing import BinaryIO

from fabric.errors import FabricError, InvalidArgument

# A JSON body larger than this is refused before it is read: a container's config is a
# few kilobytes, and reading an unbounded body into memory lets one client starve all.
MAX_JSON_BODY = 8 << 20


class TooLarge(FabricError):
    status = 413


class Incomplete(InvalidArgument):
    pass


class Limited:
    """The next n bytes of f; a short read raises Incomplete (the client went away
    before its body was complete)."""

    def __init__(self, f: BinaryIO, n: int):
        self.f, self.total, self.left = f, n, n

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        if size < 0 or size > self.left:
            size = self.left
        try:
            data = self.f.read(size)
        except TimeoutError:
            data = b""
        if not data:
            raise Incomplete(f"request body truncated: {self.total - self.left} of "
                             f"{self.total} bytes arrived")
        self.left -= len(data)
        return data


class Chunked:
    """A `Transfer-Encoding: chunked` body, decoded."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.left = 0
        self.done = False

    def _line(self) -> bytes:
        try:
            line = self.f.readline(1024)
        except TimeoutError:
            line = b""
        if not line.endswith(b"\n"):
            raise Incomplete("request body truncated inside a chunk header")
        return line.strip()

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self.done and (size < 0 or len(out) < size):
            if self.left == 0:
                head = self._line().split(b";")[0]
                try:
                    self.left = int(head, 16)
                except ValueError:
                    raise InvalidArgument(f"bad chunk size {head[:20]!r}") from None
                if self.left == 0:
                    while self._line():     # trailers, up to the empty line
                        pass
                    self.done = True
                    break
            want = self.left if size < 0 else min(self.left, size - len(out))
            data = self.f.read(want)
            if not data:
                raise Incomplete("request body truncated inside a chunk")
            out += data
            self.left -= len(data)
            if self.left == 0:
                self._line()                # the CRLF that ends a chunk
        return bytes(out)


def read_all(stream, limit: int = MAX_JSON_BODY) -> bytes:
    out = bytearray()
    while chunk := stream.read(65536):
        out += chunk
        if len(out) > limit:
            raise TooLarge(f"request body over the limit of {limit >> 20} MiB")
    return bytes(out)


def discard(stream, limit: int = 64 << 20) -> None:
    """Read what is left of a body before answering an error, so that closing the socket
    does not reset the connection under the answer (then the client sees only a reset)."""
    left = limit
    try:
        while left > 0 and (chunk := stream.read(min(left, 1 << 20))):
            left -= len(chunk)
    except (OSError, FabricError):
        pass
