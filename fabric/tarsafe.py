"""Safe tar extraction shared by the daemon (`cp` into a container) and the thin CLI
(`cp` out of one). Standard library only: the CLI imports it.

Every member name is normalised and refused when it is absolute after stripping or
climbs with `..`; the directory a member lands in is found by a caller-supplied
`parent(components)` that decides how symlinks on the way are treated (followed inside
a container's root, refused on the host); device nodes are refused; the last component
is never followed (a member replaces a symlink, it does not write through it).
"""

import errno
import os
import stat
import tarfile
from collections.abc import Callable


class UnsafeArchive(Exception):
    pass


def member_parts(name: str) -> list[str]:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchive(f"archive member {name!r} climbs out of the destination")
    return parts


def _remove(dirfd: int, name: str) -> None:
    try:
        st = os.lstat(name, dir_fd=dirfd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", name)
    os.unlink(name, dir_fd=dirfd)


def extract(tf: tarfile.TarFile, parent: Callable[[list[str]], str],
            rename: Callable[[list[str]], list[str]] | None = None,
            owner: tuple[int, int] | None = None,
            no_overwrite_dir_non_dir: bool = False) -> int:
    """Extract a (streaming) tar. `parent(parts)` returns the host path of the directory
    that holds parts[-1], creating missing directories. `owner` forces uid/gid (None:
    leave files to the extracting user). Returns the number of members written."""
    n = 0
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    for m in tf:
        parts = member_parts(m.name)
        if rename:
            parts = rename(parts)
        if not parts:
            continue  # the archive's "./" entry: the destination itself
        if m.ischr() or m.isblk():
            raise UnsafeArchive(f"archive member {m.name!r} is a device node; refused")
        pdir = parent(parts[:-1])
        name = parts[-1]
        dfd = os.open(pdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _one(tf, m, dfd, name, parent, rename, no_overwrite_dir_non_dir)
            if owner is not None:
                try:
                    os.chown(name, *owner, dir_fd=dfd, follow_symlinks=False)
                except OSError:
                    pass
            if not m.issym():
                if m.isdir():
                    dirs.append((os.path.join(pdir, name), m))
                else:
                    try:
                        os.chmod(name, m.mode & 0o7777, dir_fd=dfd)
                        os.utime(name, (m.mtime, m.mtime), dir_fd=dfd)
                    except OSError:
                        pass
        finally:
            os.close(dfd)
        n += 1
    for path, m in reversed(dirs):  # directories last: writing inside changes their mtime
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            os.chmod(fd, m.mode & 0o7777)
            os.utime(fd, (m.mtime, m.mtime))
        except OSError:
            pass
        finally:
            os.close(fd)
    return n


def _one(tf, m, dfd, name, parent, rename, no_overwrite) -> None:
    try:
        st = os.lstat(name, dir_fd=dfd)
    except FileNotFoundError:
        st = None
    if m.isdir():
        if st is not None and stat.S_ISDIR(st.st_mode):
            return
        if st is not None:
            if no_overwrite:
                raise UnsafeArchive(f"cannot overwrite non-directory {name!r} with directory")
            os.unlink(name, dir_fd=dfd)
        os.mkdir(name, 0o700, dir_fd=dfd)
        return
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            if no_overwrite:
                raise UnsafeArchive(f"cannot overwrite directory {name!r} with non-directory")
            raise UnsafeArchive(f"cannot replace directory {name!r} with a file")
        os.unlink(name, dir_fd=dfd)
    if m.isreg():
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                     dir_fd=dfd)
        with os.fdopen(fd, "wb") as out:
            src = tf.extractfile(m)
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
    elif m.issym():
        os.symlink(m.linkname, name, dir_fd=dfd)
    elif m.islnk():
        tparts = member_parts(m.linkname)
        if rename:
            tparts = rename(tparts)
        if not tparts:
            raise UnsafeArchive(f"hard link {m.name!r} has no target")
        tdir = parent(tparts[:-1])
        tfd = os.open(tdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            tst = os.lstat(tparts[-1], dir_fd=tfd)
            if not stat.S_ISREG(tst.st_mode):
                raise UnsafeArchive(f"hard link {m.name!r} must point at a regular file")
            os.link(tparts[-1], name, src_dir_fd=tfd, dst_dir_fd=dfd, follow_symlinks=False)
        finally:
            os.close(tfd)
    elif m.isfifo():
        os.mkfifo(name, 0o600, dir_fd=dfd)
    else:
        raise UnsafeArchive(f"archive member {m.name!r} has an unsupported type")


def host_parent(base: str) -> Callable[[list[str]], str]:
    """For extraction on the host: directories under `base` are created as needed and
    a symlink on the way is refused (it could point anywhere). A directory checked once
    is not checked again (extract never replaces a directory), so a member costs the
    levels not seen before, not one lookup per level (a deep tree was cubic)."""
    base = base.rstrip("/") or "/"
    checked: set[str] = {base}

    def parent(parts: list[str]) -> str:
        full = os.path.join(base, *parts)
        todo = []
        path = full
        while path not in checked and os.path.dirname(path) != path:
            todo.append(path)
            path = os.path.dirname(path)
        for path in reversed(todo):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                checked.add(path)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafeArchive(f"{path} is not a directory (or is a symlink); refused")
            checked.add(path)
        return full
    return parent


def add_tree(tf: tarfile.TarFile, path: str, arcname: str, skip_devices: bool = True,
             filter_: Callable[[tarfile.TarInfo], tarfile.TarInfo | None] | None = None) -> None:
    """tar.add without following symlinks, leaving out device nodes and sockets; parents
    first, names in order, without recursion (trees may be deeper than Python's limit)."""
    stack = [(path, arcname)]
    while stack:
        path, arcname = stack.pop()
        mode = os.lstat(path).st_mode
        if skip_devices and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)):
            continue
        info = tf.gettarinfo(path, arcname)
        ti = filter_(info) if filter_ else info
        if ti is None:
            continue
        if stat.S_ISREG(mode):
            with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as f:
                tf.addfile(ti, f)
        else:
            tf.addfile(ti)
        if stat.S_ISDIR(mode):
            stack.extend((os.path.join(path, name), arcname.rstrip("/") + "/" + name)
                         for name in sorted(os.listdir(path), reverse=True))
