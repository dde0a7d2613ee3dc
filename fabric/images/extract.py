"""Safe extraction of image layers into overlay lower directories.

A hostile layer must not write outside the target: no absolute paths, no `..`, no
device nodes, and no write through a symlink (a member whose parent path resolves
through a symlink is refused, since a later member could otherwise land outside the
tree). OCI whiteouts (`.wh.name`, `.wh..wh..opq`) become overlayfs whiteouts (0:0
character devices, the `trusted.overlay.opaque` xattr) so the kernel hides lower files.
"""

import os
import stat
import tarfile

from fabric.errors import InvalidArgument
from fabric.fsutil import makedirs, rmtree

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def _clean(name: str) -> str:
    # An absolute name is not merely re-rooted: no legitimate layer has one, and a
    # tarball that does was most likely made to land somewhere it should not.
    if name.startswith("/"):
        raise InvalidArgument(f"archive member {name!r} has an absolute path")
    parts = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise InvalidArgument(f"archive member {name!r} escapes the target directory")
        parts.append(p)
    return "/".join(parts)


def _check_parents(target: str, rel: str, checked: set[str]) -> None:
    """Refuse a member whose parent directories pass through a symlink. A parent found
    not to be one is not looked at again (a 1,200-deep path would otherwise cost a
    billion lookups) until a member replaces it (_forget)."""
    prefix = ""
    for p in rel.split("/")[:-1]:
        prefix = f"{prefix}/{p}" if prefix else p
        if prefix in checked:
            continue
        if os.path.islink(os.path.join(target, prefix)):
            raise InvalidArgument(f"archive member {rel!r} would be written through a symlink")
        checked.add(prefix)


def _forget(checked: set[str], rel: str) -> None:
    """rel is being replaced (by a file, a link, a whiteout): what was checked under it
    no longer holds. Only a directory that was checked can have checked paths below."""
    if rel in checked:
        under = rel + "/"
        checked.difference_update([p for p in checked if p == rel or p.startswith(under)])


def extract_layer(tf: tarfile.TarFile, target: str) -> None:
    checked: set[str] = set()
    for m in tf:
        rel = _clean(m.name)
        if not rel:
            continue
        _check_parents(target, rel, checked)
        if not m.isdir():
            _forget(checked, rel)
        dest = os.path.join(target, rel)
        base = os.path.basename(rel)
        parent = os.path.dirname(dest)
        if base == OPAQUE:
            makedirs(parent)
            os.setxattr(parent, "trusted.overlay.opaque", b"y")
            continue
        if base.startswith(WHITEOUT_PREFIX):
            hidden_name = base[len(WHITEOUT_PREFIX):]
            if hidden_name in ("", ".", ".."):
                raise InvalidArgument(f"archive member {m.name!r} is not a valid whiteout")
            makedirs(parent)
            hidden = os.path.join(parent, hidden_name)
            _forget(checked, os.path.join(os.path.dirname(rel), hidden_name))
            _remove(hidden)
            os.mknod(hidden, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
            continue
        if m.ischr() or m.isblk():
            # Device nodes come from the runtime (/dev is a tmpfs), never from images.
            # Real rootfs tarballs carry dev/null and friends, so those are dropped;
            # a device anywhere else can only be an attempt to reach the host's disks.
            if rel.startswith("dev/"):
                continue
            raise InvalidArgument(f"archive member {m.name!r} is a device node")
        makedirs(parent)
        if m.isdir():
            if os.path.lexists(dest) and not os.path.isdir(dest):
                _remove(dest)
            makedirs(dest)
        elif m.issym():
            _remove(dest)
            os.symlink(m.linkname, dest)
        elif m.islnk():
            if m.linkname.startswith("/"):
                raise InvalidArgument(f"archive hard link {m.name!r} -> {m.linkname!r} "
                                      "points outside the layer")
            src_rel = _clean(m.linkname)
            _check_parents(target, src_rel, checked)
            src = os.path.join(target, src_rel)
            if os.path.islink(src) or not os.path.isfile(src):
                raise InvalidArgument(f"archive hard link {rel!r} -> {m.linkname!r} is not "
                                      "a regular file inside the layer")
            _remove(dest)
            os.link(src, dest)
        elif m.isfifo():
            _remove(dest)
            os.mkfifo(dest, m.mode & 0o7777)
        elif m.isreg():
            _remove(dest)
            data = tf.extractfile(m)
            if data is None:
                raise InvalidArgument(f"archive member {m.name!r} cannot be read")
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = data.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
        else:
            continue
        if not m.issym():
            os.chown(dest, m.uid, m.gid, follow_symlinks=False)
            os.chmod(dest, m.mode & 0o7777)
            os.utime(dest, (m.mtime, m.mtime), follow_symlinks=False)
        else:
            os.chown(dest, m.uid, m.gid, follow_symlinks=False)


def _remove(path: str) -> None:
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        rmtree(path)
