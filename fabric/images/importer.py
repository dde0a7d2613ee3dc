"""`image import`: a root filesystem tarball (plain or compressed) becomes a
one-layer image, as with `docker import`."""

import json
import time

from fabric.errors import InvalidArgument
from fabric.images import changes as changesmod
from fabric.images.archive import Work, write_decompressed
from fabric.images.platform import arch
from fabric.images.store import normalize_ref, valid_ref


def now_rfc3339() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        f".{ns % 10**9:09d}Z"


def target_ref(repo: str, tag: str) -> str | None:
    """Docker's repo/tag query pair as one normalized reference, checked."""
    if not repo:
        if tag:
            raise InvalidArgument("a tag needs a repository name")
        return None
    ref = normalize_ref(repo + (":" + tag if tag else ""))
    if not valid_ref(ref):
        raise InvalidArgument(f"invalid reference format: {repo + (':' + tag if tag else '')!r} "
                              "(use name[:tag], lower-case)")
    return ref


def import_rootfs(images, body, repo: str = "", tag: str = "", changes=(),
                  message: str = "") -> str:
    with Work(images.root, "import") as w:
        # The body is read in full before anything is checked: answering early would
        # leave the client writing into a closed connection. It is read outside the
        # lock so a slow upload holds up no other image command.
        tar = w.path("rootfs.tar")
        diff = write_decompressed(body, tar, "rootfs archive")
        ref = target_ref(repo, tag)
        config = changesmod.apply({}, changesmod.split(changes))
        with images.lock:
            try:
                diff_id, _ = w.add_layer_file(tar, diff)
                created = now_rfc3339()
                cfg = {"architecture": arch(), "os": "linux", "created": created,
                       "config": config, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                       "history": [{"created": created, "created_by": "",
                                    "comment": message or "Imported from -"}]}
                if message:
                    cfg["comment"] = message
                blob = json.dumps(cfg, separators=(",", ":")).encode()
                return images.register(blob, [ref] if ref else [])
            except BaseException:
                w.rollback()
                raise
