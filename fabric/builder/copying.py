"""COPY and ADD: sources and destination as Docker reads them, and the copy itself.

- Several sources (or a pattern) need a destination directory ending in `/`.
- A directory source copies its contents, not itself; a file goes into a destination
  that ends in `/` or is a directory of the image, else it *is* the destination.
- A relative destination is relative to WORKDIR; missing directories are made (0755).
- Everything copied belongs to 0:0 unless `--chown=user[:group]` (names looked up in
  the image's /etc/passwd and /etc/group; a lone user means the group of that name).
- ADD extracts a local tar archive (plain, gzip, bzip2 or xz) into the destination.
  URLs are refused: a fabric build fetches nothing from the network.
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile

from fabric import tarsafe
from fabric.builder.context import CopyError, Source, Tree
from fabric.builder.mount import Mounted
from fabric.images.archive import CORRUPT, open_decompressed

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def check_sources(cmd: str, items: list[str]) -> tuple[list[str], str]:
    if len(items) < 2:
        raise CopyError(f"{cmd} requires at least two arguments: {cmd} <src>... <dest>")
    *srcs, dest = items
    for s in srcs:
        if _URL.match(s):
            raise CopyError(f"{cmd} from a URL ({s}) is not supported: fabric builds fetch "
                            "nothing from the network; put the file in the build context "
                            "and COPY it")
    return srcs, dest


def destination(dest: str, workdir: str) -> str:
    path = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    clean = posixpath.normpath(path)
    return clean + "/" if dest.endswith("/") or dest in (".", "./") else clean


def _ids(mnt: Mounted, chown: str) -> tuple[int, int]:
    if not chown:
        return 0, 0
    user, _, group = chown.partition(":")
    group = group or user

    def lookup(name: str, table: str) -> int:
        if name.isdigit():
            return int(name)
        _, host = mnt.view.resolve(table)
        try:
            with open(host, encoding="utf-8", errors="replace") as f:
                for line in f:
                    fields = line.split(":")
                    if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                        return int(fields[2])
        except OSError:
            pass
        raise CopyError(f"unable to convert uid/gid chown string to host mapping: no such "
                        f"{'user' if table.endswith('passwd') else 'group'} {name!r} in "
                        f"the image's {table}")
    return lookup(user, "/etc/passwd"), lookup(group, "/etc/group")


def _mkdirs(mnt: Mounted, path: str) -> list[str]:
    """Make the directory path (in the image) and return its canonical parts."""
    parts, _ = mnt.view.resolve(path)
    mnt.view.parent_creator([])(parts)
    return parts


def _is_archive(src: Source) -> bool:
    if src.is_dir or not os.path.isfile(src.host):
        return False
    with open(src.host, "rb") as f:
        head = f.read(512)
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def copy(cmd: str, mnt: Mounted, tree: Tree, srcs: list[Source], dest: str, chown: str,
         scratch: str) -> None:
    owner = _ids(mnt, chown)
    plain = list(srcs)
    if cmd == "ADD":
        archives = [s for s in srcs if _is_archive(s)]
        plain = [s for s in srcs if s not in archives]
        for a in archives:
            _extract(mnt, a, dest.rstrip("/") or "/", owner)
    if not plain:
        return
    _, host = mnt.view.resolve(dest)
    into_dir = dest.endswith("/") or len(srcs) > 1 or plain[0].is_dir or os.path.isdir(host)
    if len(srcs) > 1 and not dest.endswith("/"):
        raise CopyError(f"When using {cmd} with more than one source file, the destination "
                        "must be a directory and end with a /")
    if into_dir:
        base, names = dest.rstrip("/") or "/", ["" if s.is_dir else s.name for s in plain]
    else:
        base, names = posixpath.dirname(dest) or "/", [posixpath.basename(dest)]
    tar = os.path.join(scratch, "copy.tar")
    tree.to_tar(plain, names, tar)
    parts = _mkdirs(mnt, base)
    try:
        with tarfile.open(tar, "r:") as tf:
            tarsafe.extract(tf, mnt.view.parent_creator(parts), owner=owner)
    except tarsafe.UnsafeArchive as e:
        raise CopyError(f"{cmd} failed: {e}") from None
    finally:
        os.unlink(tar)


def _extract(mnt: Mounted, src: Source, dest: str, owner: tuple[int, int]) -> None:
    parts = _mkdirs(mnt, dest)
    try:
        with open(src.host, "rb") as f, tarfile.open(
                fileobj=open_decompressed(f, src.rel), mode="r|") as tf:
            tarsafe.extract(tf, mnt.view.parent_creator(parts), owner=owner)
    except CORRUPT as e:
        raise CopyError(f"ADD failed: {src.rel} is not a valid archive: {e}") from None
    except tarsafe.UnsafeArchive as e:
        raise CopyError(f"ADD failed: {src.rel}: {e}") from None
