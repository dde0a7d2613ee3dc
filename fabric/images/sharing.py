"""An image taken from another root on this machine without copying it: the hosts of a
lab share one copy of each layer.

A layer is a directory tree (an overlay lower directory) and its tar, named by diff_id
in every root. Taking one from another root makes the same tree of directories here
and hard-links every other entry (files, symlinks, whiteouts) and the tar, so the
bytes are on the disk once however many roots hold the layer. That is safe because
nothing writes to a layer once it is extracted: overlayfs never writes its lower
directories (a container's changes go to its own upper directory, copied up), and a
root's layer collection only unlinks its own names, so the others keep theirs.

Directories cannot be hard-linked, so each root has its own (a few KiB each), with the
original's owner, mode, times and overlay xattrs. Where linking is impossible (another
file system, a tree deeper than a path can name) the layer is copied as its tar and
extracted here, as a load would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

from fabric.errors import InvalidArgument, NotFound
from fabric.fsutil import rmtree, walk
from fabric.images import layers
from fabric.images.archive import DIGEST
from fabric.images.store import valid_ref
from fabric.paths import HostRoot

if TYPE_CHECKING:
    from fabric.images.store import ImageStore

OVERLAY_XATTRS = ("trusted.overlay.opaque",)


def adopt(images: ImageStore, src: HostRoot, image_id: str, refs: list[str]) -> str:
    """Image `image_id` of root `src` into `images` under `refs` (tags and
    `name@sha256:...` digests): its config blob copied (its sha256 must be the id), its
    layers taken (take_layer), then registered. A failure leaves nothing of it here."""
    if not DIGEST.fullmatch(image_id or ""):
        raise InvalidArgument(f"{image_id!r} is not an image id (sha256:<64 hex digits>)")
    bad = [r for r in refs if not valid_ref(r)]
    if bad:
        raise InvalidArgument(f"invalid reference format: {bad[0]!r}")
    try:
        with open(os.path.join(src.images, image_id[7:] + ".json"), "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise NotFound(f"No such image: {image_id} in {src.path}") from None
    if "sha256:" + hashlib.sha256(blob).hexdigest() != image_id:
        raise InvalidArgument(f"the config of image {image_id[7:19]} in {src.path} does not "
                              "match its id")
    diff_ids = json.loads(blob).get("rootfs", {}).get("diff_ids", [])
    with images.lock:         # no layer collection between taking the layers and registering
        taken = []
        try:
            for d in diff_ids:
                if not layers.exists(images.root, d):
                    take_layer(src, images.root, d)
                    taken.append(d)
            images.register(blob, [r for r in refs if "@" not in r])
            for r in refs:
                if "@" in r:
                    images.add_digest(image_id, r)
        except BaseException:
            for d in taken:
                layers.remove(images.root, d)
            raise
    return image_id


def take_layer(src: HostRoot, dst: HostRoot, diff_id: str) -> None:
    """Make layer `diff_id` of root `src` one of root `dst` (present already: nothing)."""
    if layers.exists(dst, diff_id):
        return
    if not layers.exists(src, diff_id):
        raise InvalidArgument(f"layer {diff_id} is not in {src.path}")
    final = layers.layer_dir(dst, diff_id)
    tmp = tempfile.mkdtemp(prefix=".link-", dir=dst.layers)
    try:
        _link_tree(layers.layer_dir(src, diff_id), tmp)
    except OSError:
        rmtree(tmp, ignore_errors=True)
        _copy(src, dst, diff_id)
        return
    if os.path.isdir(final):     # a half-made one (a crash before its tar was in)
        rmtree(final)
    os.rename(tmp, final)
    try:
        os.link(layers.layer_tar(src, diff_id), final + ".tar")
    except FileExistsError:
        pass


def _link_tree(src: str, dst: str) -> None:
    """dst (an empty directory) becomes src's tree: its own directories, hard links for
    the rest. Directory times are set last, once nothing more is added to them."""
    dirs = []
    for dirpath, _dirs, filenames in walk(src):
        here = os.path.join(dst, os.path.relpath(dirpath, src))
        if dirpath != src:
            os.mkdir(here)
        dirs.append((dirpath, here))
        for name in filenames:
            os.link(os.path.join(dirpath, name), os.path.join(here, name),
                    follow_symlinks=False)
    for original, copy in reversed(dirs):
        st = os.lstat(original)
        os.chown(copy, st.st_uid, st.st_gid)
        os.chmod(copy, st.st_mode & 0o7777)
        for attr in OVERLAY_XATTRS:
            try:
                os.setxattr(copy, attr, os.getxattr(original, attr))
            except OSError:
                pass          # not set on this one
        os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy(src: HostRoot, dst: HostRoot, diff_id: str) -> None:
    os.makedirs(dst.tmp, exist_ok=True)
    fd, tar = tempfile.mkstemp(prefix="layer-", suffix=".tar", dir=dst.tmp)
    os.close(fd)
    try:
        shutil.copyfile(layers.layer_tar(src, diff_id), tar)
        layers.ingest(dst, tar, diff_id)
    finally:
        if os.path.exists(tar):
            os.unlink(tar)
