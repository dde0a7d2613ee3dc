"""`cp`: files in and out of a container as tar (GET/PUT/HEAD /containers/{id}/archive).

Paths are resolved inside the container's root by hand, one component at a time:
`..` stops at the root, symlinks (absolute or relative) are followed as the container
would see them, but always against the container's root, never the host's. A running
container is reached through /proc/<pid>/root (its own mount namespace, volumes
included); a stopped one gets its overlay mounted for the duration of the call, its
volumes and binds mapped through its mount list, and unmounted afterwards.
"""

import contextlib
import os
import stat
import tarfile
import tempfile

from fabric import tarsafe
from fabric.errors import FabricError, InvalidArgument, NotFound
from fabric.runtime import rootfs

MAX_LINKS = 40


class View:
    """A container's filesystem seen from the host."""

    def __init__(self, root: str, mounts: list[tuple[str, str]]):
        self.root = root.rstrip("/") or "/"
        # (container destination parts, host source), longest first
        self.mounts = sorted(((tuple(p for p in d.split("/") if p), s) for d, s in mounts),
                             key=lambda m: -len(m[0]))

    def host(self, parts: list[str]) -> str:
        t = tuple(parts)
        for dest, src in self.mounts:
            if t[:len(dest)] == dest:
                return os.path.join(src, *t[len(dest):]) if t[len(dest):] else src
        return os.path.join(self.root, *parts) if parts else self.root

    def resolve(self, path: str, follow_last: bool = True) -> tuple[list[str], str]:
        """Container path -> (canonical container parts, host path)."""
        todo = [p for p in path.split("/") if p]
        done: list[str] = []
        links = 0
        while todo:
            comp = todo.pop(0)
            if comp == ".":
                continue
            if comp == "..":
                if done:
                    done.pop()
                continue
            cand = done + [comp]
            hp = self.host(cand)
            try:
                st = os.lstat(hp)
            except (FileNotFoundError, NotADirectoryError):
                done = cand
                continue
            if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                links += 1
                if links > MAX_LINKS:
                    raise InvalidArgument(f"too many levels of symbolic links in {path}")
                target = os.readlink(hp)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            done = cand
        return done, self.host(done)

    def parent_creator(self, base_parts: list[str]):
        """For tarsafe.extract: the host directory for member parts under base_parts,
        following symlinks inside the container, creating missing directories."""
        def parent(parts: list[str]) -> str:
            cur = list(base_parts)
            for p in parts:
                cur, hp = self.resolve("/" + "/".join(cur + [p]))
                try:
                    st = os.stat(hp)
                except FileNotFoundError:
                    os.mkdir(hp, 0o755)
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise tarsafe.UnsafeArchive(f"/{'/'.join(cur)} is not a directory")
            _, hp = self.resolve("/" + "/".join(cur))
            return hp
        return parent


def _go_mode(st: os.stat_result) -> int:
    """Go's os.FileMode, which Docker's path-stat header carries."""
    m = st.st_mode & 0o777
    if stat.S_ISDIR(st.st_mode):
        m |= 1 << 31
    elif stat.S_ISLNK(st.st_mode):
        m |= 1 << 27
    elif stat.S_ISFIFO(st.st_mode):
        m |= 1 << 25
    elif stat.S_ISSOCK(st.st_mode):
        m |= 1 << 24
    elif stat.S_ISCHR(st.st_mode):
        m |= (1 << 26) | (1 << 21)
    elif stat.S_ISBLK(st.st_mode):
        m |= 1 << 26
    if st.st_mode & stat.S_ISUID:
        m |= 1 << 23
    if st.st_mode & stat.S_ISGID:
        m |= 1 << 22
    if st.st_mode & stat.S_ISVTX:
        m |= 1 << 20
    return m


class Archives:
    def __init__(self, engine):
        self.engine = engine
        self.C = engine.containers

    @contextlib.contextmanager
    def view(self, ref: str):
        cid = self.C.id_of(ref)
        doc = self.C.get(cid)
        pid = doc["State"].get("Pid") or 0
        if doc["State"]["Status"] in ("running", "paused") and pid and \
                os.path.exists(f"/proc/{pid}/root/"):
            yield View(f"/proc/{pid}/root", []), doc
            return
        # Stopped: mount its root for the call, under its lock so a start waits.
        with self.C.lock(cid):
            doc = self.C.get(cid)
            cdir = self.C.cdir(cid)
            target = rootfs.paths(cdir)[0]
            mounted_here = False
            if not rootfs.is_mounted(target):
                rootfs.mount(cdir, self.engine.images.layer_dirs(doc["Image"]))
                mounted_here = True
            try:
                mnts = [(m["Destination"], m["Source"]) for m in doc.get("Mounts") or []
                        if m.get("Source") and m.get("Type") in ("bind", "volume")]
                for dest, key in (("/etc/hosts", "HostsPath"), ("/etc/hostname", "HostnamePath"),
                                  ("/etc/resolv.conf", "ResolvConfPath")):
                    if doc.get(key) and os.path.exists(doc[key]) and \
                            dest not in {d for d, _ in mnts}:
                        mnts.append((dest, doc[key]))
                yield View(target, mnts), doc
            finally:
                if mounted_here:
                    rootfs.unmount(cdir)

    def stat(self, ref: str, path: str) -> dict:
        with self.view(ref) as (v, _):
            return self._stat(v, path)

    def _stat(self, v: View, path: str) -> dict:
        if not path:
            raise InvalidArgument("no path given")
        parts, hp = v.resolve(path, follow_last=False)
        try:
            st = os.lstat(hp)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"Could not find the file {path} in container") from None
        link = ""
        if stat.S_ISLNK(st.st_mode):
            lparts, _ = v.resolve(path, follow_last=True)
            link = "/" + "/".join(lparts)
        name = parts[-1] if parts else "/"
        return {"name": name, "size": st.st_size, "mode": _go_mode(st),
                "mtime": _rfc3339(st.st_mtime), "linkTarget": link}

    def get(self, ref: str, path: str, tmpdir: str):
        """Return (stat, file) where file holds the tar, rewound."""
        with self.view(ref) as (v, _):
            info = self._stat(v, path)
            parts, hp = v.resolve(path, follow_last=False)
            st = os.lstat(hp)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                raise InvalidArgument(f"{path} is a device node; refusing to copy it")
            if path.endswith("/") and not stat.S_ISDIR(st.st_mode) and \
                    not stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(f"{path} is not a directory")
            if path.endswith(("/", "/.")) and stat.S_ISLNK(st.st_mode):
                parts, hp = v.resolve(path, follow_last=True)
            arc = parts[-1] if parts else "."
            out = tempfile.TemporaryFile(dir=tmpdir)  # noqa: SIM115 (handed to the caller)
            try:
                with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                    tarsafe.add_tree(tf, hp, arc)
            except BaseException:
                out.close()
                raise
            out.seek(0)
            return info, out

    def put(self, ref: str, path: str, body, no_overwrite: bool = False,
            copy_uid_gid: bool = False) -> None:
        with self.view(ref) as (v, doc):
            if doc["HostConfig"].get("ReadonlyRootfs"):
                raise FabricError("container rootfs is marked read-only")
            parts, hp = v.resolve(path, follow_last=True)
            try:
                st = os.stat(hp)
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {path} in container") from None
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"extraction point is not a directory: {path}")
            try:
                with tarfile.open(fileobj=body, mode="r|*") as tf:
                    tarsafe.extract(tf, v.parent_creator(parts),
                                    owner=None if copy_uid_gid else (0, 0),
                                    no_overwrite_dir_non_dir=no_overwrite)
            except tarsafe.UnsafeArchive as e:
                raise InvalidArgument(str(e)) from None
            except tarfile.TarError as e:
                raise InvalidArgument(f"bad tar archive: {e}") from None
            except OSError as e:
                raise FabricError(f"cannot extract into {path}: {e.strerror or e}") from None


def _rfc3339(t: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat().replace(
        "+00:00", "Z")
