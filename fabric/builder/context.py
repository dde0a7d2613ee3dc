"""The build context on the daemon's side: the uploaded tar, extracted once into the
build's scratch directory, and the sources COPY and ADD take from it.

A source path is resolved inside the context as a container resolves paths inside its
root (symlinks followed but never out of it), so no Dockerfile reaches a file the
client did not send; `..` that climbs out is refused with Docker's message, files the
.dockerignore leaves out are not there. Each source's content hash (names, modes and
bytes) is part of the step's cache key, as Docker's `COPY file:<hash> in /dest`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tarfile

from fabric import tarsafe
from fabric.builder.ignore import Ignore, pattern_regex
from fabric.engine.archive import View
from fabric.errors import InvalidArgument
from fabric.images.archive import CORRUPT, open_decompressed


class CopyError(InvalidArgument):
    pass


def extract(body, dest: str) -> None:
    """The uploaded context (plain or compressed tar) into dest."""
    os.makedirs(dest, exist_ok=True)
    try:
        with tarfile.open(fileobj=open_decompressed(body, "build context"), mode="r|") as tf:
            tarsafe.extract(tf, tarsafe.host_parent(dest), owner=None)
    except CORRUPT as e:
        raise InvalidArgument(f"the build context is not a valid tar archive: {e}") from None
    except tarsafe.UnsafeArchive as e:
        raise InvalidArgument(f"build context refused: {e}") from None
    # A tar ends before its padding does: read the rest, or closing the connection
    # with unread data would reset it under the client's feet.
    while body.read(1 << 16):
        pass


class Source:
    """One file or directory to copy: where it is, what it is called in the context."""

    def __init__(self, host: str, rel: str, name: str):
        self.host, self.rel, self.name = host, rel, name

    @property
    def is_dir(self) -> bool:
        return os.path.isdir(self.host) and not os.path.islink(self.host)


class Tree:
    """A directory tree sources are taken from: the context, or another stage's (or
    image's) mounted root. Only the context has a .dockerignore."""

    def __init__(self, root: str, ignore: Ignore | None = None, what: str = "build context"):
        self.root, self.ignore, self.what = root, ignore or Ignore([]), what
        self.view = View(root, [])

    def sources(self, pattern: str, cmd: str) -> list[Source]:
        clean = posixpath.normpath("/" + pattern) if self.what != "build context" else \
            posixpath.normpath(pattern)
        if clean == ".." or clean.startswith("../"):
            raise CopyError(f"{cmd} failed: forbidden path outside the build context: "
                            f"{pattern} ()")
        rel = clean.lstrip("/")
        rel = "" if rel == "." else rel
        if any(ch in rel for ch in "*?["):
            found = [s for s in self._glob(rel) if not self.ignore.excluded(s.rel)]
        else:
            parts, host = self.view.resolve("/" + rel)
            found = [Source(host, "/".join(parts), posixpath.basename(rel) or ".")] \
                if os.path.lexists(host) and not (rel and self.ignore.excluded(rel)) else []
        if not found:
            raise CopyError(f"{cmd} failed: file not found in {self.what} or excluded by "
                            f".dockerignore: stat {pattern}: file does not exist")
        return found

    def _glob(self, rel: str) -> list[Source]:
        rx = pattern_regex(rel)
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for n in sorted(dirnames + filenames):
                full = os.path.join(dirpath, n)
                r = os.path.relpath(full, self.root)
                if rx.fullmatch(r):
                    out.append(Source(full, r, n))
        return out

    def walk(self, src: Source):
        """(host path, path relative to the source, lstat) of a source and, for a
        directory, everything in it the .dockerignore keeps, parents first."""
        yield src.host, "", os.lstat(src.host)
        if not src.is_dir:
            return
        for dirpath, dirnames, filenames in os.walk(src.host):
            dirnames.sort()
            for n in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, n)
                sub = os.path.relpath(full, src.host)
                if self.ignore.excluded(posixpath.join(src.rel, sub)):
                    # a `!` line may take back something below an excluded directory
                    if n in dirnames and not self.ignore.negates:
                        dirnames.remove(n)
                    continue
                yield full, sub, os.lstat(full)

    def digest(self, srcs: list[Source]) -> str:
        """Docker's `file:<hash>`, `dir:<hash>` or `multi:<hash>` for the cache key."""
        h = hashlib.sha256()
        for s in srcs:
            for host, sub, st in self.walk(s):
                h.update(f"{s.rel}/{sub}\0{st.st_mode:o}\0".encode())
                if stat.S_ISREG(st.st_mode):
                    with open(host, "rb") as f:
                        while chunk := f.read(1 << 20):
                            h.update(chunk)
                elif stat.S_ISLNK(st.st_mode):
                    h.update(os.readlink(host).encode())
        kind = "multi" if len(srcs) > 1 else ("dir" if srcs[0].is_dir else "file")
        return f"{kind}:{h.hexdigest()}"

    def to_tar(self, srcs: list[Source], dest_names: list[str], out: str) -> None:
        """The sources as a tar whose member names are their paths under the target."""
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
            for s, name in zip(srcs, dest_names):
                for host, sub, st in self.walk(s):
                    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or \
                            stat.S_ISSOCK(st.st_mode):
                        continue
                    arc = posixpath.join(name, sub) if sub else name
                    ti = tf.gettarinfo(host, arcname=arc or ".")
                    ti.uname = ti.gname = ""
                    if ti.isreg():
                        with open(host, "rb", opener=lambda p, f: os.open(
                                p, f | os.O_NOFOLLOW)) as fh:
                            tf.addfile(ti, fh)
                    else:
                        tf.addfile(ti)
