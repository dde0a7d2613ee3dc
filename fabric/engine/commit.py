"""`commit` and `diff`: both read a container's overlay upper directory.

The upper dir holds overlayfs's own view of a change: a 0:0 character device for a
deleted file, the `trusted.overlay.opaque` xattr for a directory that hides everything
below it. A committed layer translates those into OCI whiteouts (`.wh.name`,
`.wh..wh..opq`) so Docker and fabric both read it back.
"""

import json
import os
import stat
import tarfile

from fabric.errors import FabricError
from fabric.images import changes as changesmod
from fabric.images.archive import Work
from fabric.images.importer import now_rfc3339, target_ref

OPAQUE_XATTR = "trusted.overlay.opaque"
# What the runtime puts in every container (mount points for the files fabric binds
# in, the API filesystems): Docker hides these through its init layer; fabric skips them.
RUNTIME_FILES = {"etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"}
RUNTIME_TREES = ("dev", "proc", "sys")
# The parts of a container's Config that describe the image, not this one container.
IMAGE_KEYS = ("User", "ExposedPorts", "Env", "Cmd", "Entrypoint", "WorkingDir", "Volumes",
              "Labels", "StopSignal", "OnBuild", "Healthcheck", "Shell")
KIND = {"C": 0, "A": 1, "D": 2}


def excluder(doc: dict):
    mounts = {m.get("Destination", "").strip("/") for m in doc.get("Mounts") or []}

    def excluded(rel: str) -> bool:
        if rel in RUNTIME_FILES or rel in mounts:
            return True
        return any(rel == t or rel.startswith(t + "/") for t in RUNTIME_TREES)
    return excluded


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _walk(upper: str, excluded):
    """(rel, full path, lstat) for everything in the upper dir, parents first, names in
    order; without recursion, for trees deeper than Python's recursion limit."""
    def entries(rel: str):
        with os.scandir(os.path.join(upper, rel) if rel else upper) as it:
            found = sorted(it, key=lambda e: e.name)
        for e in found:
            r = f"{rel}/{e.name}" if rel else e.name
            if not excluded(r):
                yield r, e.path, e.stat(follow_symlinks=False)
    stack = [entries("")]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        yield item
        if stat.S_ISDIR(item[2].st_mode):
            stack.append(entries(item[0]))


def _lower(lowers: list[str], rel: str) -> os.stat_result | None:
    """What the image layers (topmost first) hold at rel, if anything."""
    for d in lowers:
        p = os.path.join(d, rel)
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        # A layer's own symlinks must not lead the lookup out to the host's files. (Only
        # for what exists: resolving every level of every path made a deep tree slow.)
        if not os.path.realpath(os.path.dirname(p)).startswith(os.path.realpath(d)):
            continue
        return None if _whiteout(st) else st
    return None


def _upper(engine, doc: dict) -> str:
    return os.path.join(engine.containers.cdir(doc["Id"]), "upper")


def changes(engine, ref: str) -> list[dict]:
    """Docker's /containers/{id}/changes: Kind 0 changed, 1 added, 2 deleted."""
    doc = engine.containers.get(ref)
    upper = _upper(engine, doc)
    if not os.path.isdir(upper):
        return []
    lowers = engine.images.layer_dirs(doc["Image"])
    found: dict[str, str] = {}
    for rel, full, st in _walk(upper, excluder(doc)):
        if _whiteout(st):
            found[rel] = "D"
            continue
        low = _lower(lowers, rel)
        if low is None:
            found[rel] = "A"
        elif not stat.S_ISDIR(st.st_mode):
            found[rel] = "C"
        else:
            opaque = _opaque(full)
            if opaque:
                for d in lowers:
                    sub = os.path.join(d, rel)
                    if os.path.isdir(sub) and not os.path.islink(sub):
                        for name in os.listdir(sub):
                            if not os.path.lexists(os.path.join(full, name)):
                                found.setdefault(f"{rel}/{name}", "D")
            if opaque or (st.st_mode, st.st_uid, st.st_gid) != (low.st_mode, low.st_uid,
                                                                low.st_gid):
                found[rel] = "C"
    # A directory copied up only because something below it changed is "C", as Docker
    # shows it; one copied up for an excluded mount point alone is not reported.
    for rel in list(found):
        parent = os.path.dirname(rel)
        while parent:
            if parent not in found:
                found[parent] = "A" if _lower(lowers, parent) is None else "C"
            parent = os.path.dirname(parent)
    return [{"Path": "/" + rel, "Kind": KIND[k]} for rel, k in sorted(found.items())]


def write_layer(upper: str, dest: str, excluded) -> None:
    """The upper dir as an OCI layer tar, overlay whiteouts turned into .wh. entries."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tf:
        for rel, full, st in _walk(upper, excluded):
            if _whiteout(st):
                ti = tarfile.TarInfo(os.path.join(os.path.dirname(rel),
                                                  ".wh." + os.path.basename(rel)))
                ti.mode, ti.mtime = 0o600, int(st.st_mtime)
                tf.addfile(ti)
                continue
            ti = tf.gettarinfo(full, arcname=rel)
            if ti is None:      # sockets and the like have no place in an image
                continue
            ti.uname = ti.gname = ""
            if ti.isreg():
                # O_NOFOLLOW: a running container could swap the file for a symlink.
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
            if ti.isdir() and _opaque(full):
                op = tarfile.TarInfo(rel + "/.wh..wh..opq")
                op.mode, op.mtime = 0o600, int(st.st_mtime)
                tf.addfile(op)


def commit(engine, ref: str, repo: str = "", tag: str = "", comment: str = "",
           author: str = "", changes_=(), pause: bool = True) -> str:
    new_ref = target_ref(repo, tag)
    change_list = changesmod.split(changes_)
    changesmod.apply({}, change_list)            # refuse bad changes before any work
    doc = engine.containers.get(ref)
    images = engine.images
    paused_here = False
    if pause and doc["State"]["Status"] == "running":
        try:
            engine.containers.pause(doc["Id"])
            paused_here = True
        except FabricError:
            pass        # a consistent snapshot is a nicety; commit anyway
    try:
        with Work(engine.root, "commit") as w:
            tar = w.path("layer.tar")
            try:
                write_layer(_upper(engine, doc), tar, excluder(doc))
            except OSError as e:
                raise FabricError(f"cannot read the container's changes: {e}") from None
            if paused_here:       # the snapshot is taken: let the container run again
                paused_here = False
                try:
                    engine.containers.unpause(doc["Id"])
                except FabricError:
                    pass
            with images.lock:
                try:
                    return _register(images, w, tar, doc, comment, author, change_list,
                                     new_ref)
                except BaseException:
                    w.rollback()
                    raise
    finally:
        if paused_here:
            try:
                engine.containers.unpause(doc["Id"])
            except FabricError:
                pass


def _register(images, w: Work, tar: str, doc: dict, comment: str, author: str,
              change_list: list[str], new_ref: str | None) -> str:
    """The new layer on top of the image's, with the container's config."""
    diff_id, _ = w.add_layer_file(tar)
    base = images.config(doc["Image"])
    ccfg = doc["Config"]
    image_cfg = {k: ccfg[k] for k in IMAGE_KEYS if ccfg.get(k) not in (None, "", {}, [])}
    image_cfg = changesmod.apply(image_cfg, change_list)
    created = now_rfc3339()
    cfg = {k: v for k, v in base.items() if k not in ("author", "comment")}
    cfg.update(created=created, container=doc["Id"], config=image_cfg,
               container_config=ccfg)
    cfg["rootfs"] = {"type": "layers",
                     "diff_ids": list(base.get("rootfs", {}).get("diff_ids", []))
                     + [diff_id]}
    entry = {"created": created,
             "created_by": " ".join([doc.get("Path", "")] + list(doc.get("Args") or []))}
    if author:
        cfg["author"] = entry["author"] = author
    if comment:
        cfg["comment"] = entry["comment"] = comment
    cfg["history"] = list(base.get("history") or []) + [entry]
    blob = json.dumps(cfg, separators=(",", ":")).encode()
    return images.register(blob, [new_ref] if new_ref else [])
