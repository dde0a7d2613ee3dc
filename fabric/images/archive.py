"""Pieces shared by import, load and commit: a scratch area that is always removed,
decompression that turns every kind of corruption into one clear error, and a
read-only view of an archive's members by name.

Archives are never extracted to disk as a whole: members are read by name, and their
names are checked before use, so a manifest cannot point outside the archive.
"""

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import zlib
from typing import IO, cast

from fabric.errors import InvalidArgument
from fabric.images import layers
from fabric.paths import HostRoot

CHUNK = 1 << 20
# Configs, manifests and indexes are small; refuse to read a "config" of gigabytes.
MAX_JSON = 16 << 20
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

# Corruption shows up as any of these, depending on where the stream breaks.
CORRUPT = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


class Work:
    """A scratch directory under the root's tmp, and the layers this operation added.

    On any failure both go, so a rejected archive leaves the root exactly as it was.
    """

    def __init__(self, root: HostRoot, what: str):
        self.root = root
        os.makedirs(root.tmp, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"{what}-", dir=root.tmp)
        self.new_layers: list[str] = []
        self._n = 0

    def __enter__(self) -> "Work":
        return self

    def __exit__(self, et, e, tb) -> None:
        if et is not None:
            self.rollback()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rollback(self) -> None:
        """Remove the layers this operation added. Callers that hold the image store's
        lock call it before letting go, so no concurrent load can have reused them."""
        for d in self.new_layers:
            layers.remove(self.root, d)
        self.new_layers = []

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def spool(self, src, name: str = "upload") -> str:
        """Copy a (network) stream to a file, decompressed if it is compressed."""
        dest = self.path(name)
        write_decompressed(src, dest, "archive")
        return dest

    def add_layer(self, src, expect: str | None = None, what: str = "layer") -> tuple[str, int]:
        """Store one layer from a stream (plain or compressed); check its diff_id."""
        self._n += 1
        tar = self.path(f"layer-{self._n}.tar")
        diff_id = write_decompressed(src, tar, what)
        if expect is not None and diff_id != expect:
            raise InvalidArgument(f"{what}: content digest {diff_id} does not match the "
                                  f"image config's diff_id {expect}")
        return self.add_layer_file(tar, diff_id)

    def add_layer_file(self, tar: str, diff_id: str | None = None) -> tuple[str, int]:
        diff_id = diff_id or layers.sha256_file(tar)
        existed = layers.exists(self.root, diff_id)
        diff_id, size = layers.ingest(self.root, tar, diff_id)
        if not existed:
            self.new_layers.append(diff_id)
        return diff_id, size


class _Prefixed:
    """A stream with its first bytes already read back in front of it."""

    def __init__(self, head: bytes, f):
        self.head, self.f = head, f

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                data, self.head = self.head + self.f.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.f.read(n - len(data))
            return data
        return self.f.read(n)


def open_decompressed(f, what: str):
    head = f.read(6)
    # duck-typed: the decompressors only call read()
    stream = cast(IO[bytes], _Prefixed(head, f))
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head[:3] == b"BZh":
        return bz2.BZ2File(stream)
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(stream)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        raise InvalidArgument(f"{what} is zstd-compressed, which fabric does not support yet")
    return stream


def write_decompressed(src, dest: str, what: str) -> str:
    """Write src, decompressed, to dest; return the sha256 of what was written."""
    h = hashlib.sha256()
    try:
        stream = open_decompressed(src, what)
        with open(dest, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
    except CORRUPT as e:
        raise InvalidArgument(f"{what} is corrupt or truncated: {e}") from None
    return "sha256:" + h.hexdigest()


def clean_name(name: str) -> str:
    """A member name as the archive means it: no leading ./, no duplicate slashes."""
    return posixpath.normpath("/" + name).lstrip("/") if name.strip("/.") else ""


class Archive:
    """An outer archive (docker save or OCI layout), members looked up by name."""

    def __init__(self, path: str):
        try:
            self.tf = tarfile.open(path, "r:")
            self.members = {}
            for m in self.tf.getmembers():
                name = clean_name(m.name)
                if name:
                    self.members[name] = m
        except CORRUPT as e:
            raise InvalidArgument(f"archive is not a valid tar file: {e}") from None

    def close(self) -> None:
        self.tf.close()

    def has(self, name: str) -> bool:
        return name in self.members

    def member(self, ref: str, what: str) -> tarfile.TarInfo:
        """The regular file a path inside the archive names, following in-archive
        symlinks (docker save links repeated layers); anything leading out is refused."""
        name = ref
        for _ in range(16):
            if not isinstance(name, str) or name.startswith("/") or \
                    ".." in name.split("/"):
                raise InvalidArgument(f"{what} {ref!r} points outside the archive")
            name = clean_name(name)
            m = self.members.get(name)
            if m is None:
                raise InvalidArgument(f"{what} {ref!r} is missing from the archive")
            if m.issym():
                if m.linkname.startswith("/"):
                    raise InvalidArgument(f"{what} {ref!r} points outside the archive")
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname))
                if target.startswith("../") or target == "..":
                    raise InvalidArgument(f"{what} {ref!r} points outside the archive")
                name = target
                continue
            if not (m.isreg() or m.islnk()):
                raise InvalidArgument(f"{what} {ref!r} is not a regular file in the archive")
            return m
        raise InvalidArgument(f"{what} {ref!r}: too many levels of symbolic links")

    def open(self, ref: str, what: str):
        m = self.member(ref, what)
        try:
            f = self.tf.extractfile(m)
        except CORRUPT as e:
            raise InvalidArgument(f"{what} {ref!r} cannot be read: {e}") from None
        if f is None:
            raise InvalidArgument(f"{what} {ref!r} is not a regular file in the archive")
        return f

    def read(self, ref: str, what: str) -> bytes:
        m = self.member(ref, what)
        if m.size > MAX_JSON:
            raise InvalidArgument(f"{what} {ref!r} is too large ({m.size} bytes)")
        try:
            data = self.open(ref, what).read()
        except CORRUPT as e:
            raise InvalidArgument(f"{what} {ref!r} cannot be read: {e}") from None
        if len(data) != m.size:
            raise InvalidArgument(f"{what} {ref!r} is truncated")
        return data


class HashingReader:
    """Reads through a stream while hashing it, to check a blob against its digest."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        self.n += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.h.hexdigest()
