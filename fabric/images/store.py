"""The image store: configs in SQLite, layers on disk, tags as references.

An image's id is the sha256 of its config blob, exactly as Docker computes it, and the
blob is kept byte for byte so `save` can write an archive Docker accepts.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence

from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.fsutil import disk_usage
from fabric.images import busybox, layers, reference
from fabric.paths import HostRoot
from fabric.store.db import Store

BUILTIN = "busybox:latest"


def normalize_ref(ref: str) -> str:
    """`busybox` -> `busybox:latest`; `docker.io/library/x` -> `x:latest`; a registry
    host stays (`127.0.0.1:5000/lab/bb:1`), a digest stays in place of the tag. What is
    not a reference at all comes back as given (an image id, say)."""
    try:
        return reference.parse(ref).familiar()
    except InvalidArgument:
        return ref


def valid_ref(ref: str) -> bool:
    try:
        reference.parse(ref)
    except InvalidArgument:
        return False
    return True


class ImageStore:
    def __init__(self, root: HostRoot, store: Store):
        self.root, self.store = root, store
        # Writers (load, import, commit, rm, prune) hold this so a layer ingested by one
        # is never collected by another's _gc_layers before its image is registered.
        self.lock = threading.RLock()

    # ---- blobs and registration -------------------------------------------------------
    def config_path(self, image_id: str) -> str:
        return os.path.join(self.root.images, image_id.split(":", 1)[-1] + ".json")

    def config_blob(self, image_id: str) -> bytes:
        with open(self.config_path(image_id), "rb") as f:
            return f.read()

    def register(self, blob: bytes, tags: Sequence[str] = (), parent: str = "") -> str:
        """Record an image whose layers are already ingested; return its id. A built
        image names the image of the step before it as its parent, as Docker's classic
        builder does: `images` hides such intermediate images, and removing an image
        removes the untagged parents only it needed."""
        image_id = "sha256:" + hashlib.sha256(blob).hexdigest()
        cfg = json.loads(blob)
        for d in cfg.get("rootfs", {}).get("diff_ids", []):
            if not os.path.isdir(layers.layer_dir(self.root, d)):
                raise InvalidArgument(f"image {image_id[7:19]} names layer {d} that is missing")
        path = self.config_path(image_id)
        if not os.path.exists(path):
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        with self.store.tx() as c:
            c.execute("INSERT OR IGNORE INTO images(id, created, doc) VALUES (?, ?, ?)",
                      (image_id, time.time(), json.dumps({"config": cfg, "parent": parent})))
            for t in tags:
                c.execute("INSERT OR REPLACE INTO image_tags(ref, image_id) VALUES (?, ?)",
                          (normalize_ref(t), image_id))
        return image_id

    def ensure_builtin(self) -> str:
        # Under the lock: a prune or rmi running meanwhile must not collect the new
        # layer before the image that holds it is registered.
        with self.lock:
            row = self.store.one("SELECT image_id FROM image_tags WHERE ref=?", (BUILTIN,))
            if row:
                return row["image_id"]
            tmp = os.path.join(self.root.tmp, f"busybox-{os.getpid()}-{time.monotonic_ns()}.tar")
            try:
                busybox.build_layer(tmp)
                diff_id, _ = layers.ingest(self.root, tmp)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            blob = json.dumps(busybox.image_config(diff_id, busybox.created_stamp()),
                              sort_keys=True, separators=(",", ":")).encode()
            return self.register(blob, [BUILTIN])

    # ---- lookup ----------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """An image id for a reference, a full or short id; the builtin is made on use."""
        ref = ref.strip()
        if not ref:
            raise InvalidArgument("image name is empty")
        norm = normalize_ref(ref)
        row = self.store.one("SELECT image_id FROM image_tags WHERE ref=?", (norm,))
        if row:
            return row["image_id"]
        if norm == BUILTIN:
            return self.ensure_builtin()
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if len(hexpart) >= 4 and all(ch in "0123456789abcdef" for ch in hexpart):
            rows = self.store.query("SELECT id FROM images WHERE id LIKE ?",
                                    ("sha256:" + hexpart + "%",))
            if len(rows) == 1:
                return rows[0]["id"]
            if len(rows) > 1:
                raise InvalidArgument(f"image id prefix {ref!r} is ambiguous; give more characters")
        raise NotFound(f"No such image: {ref}")

    def config(self, image_id: str) -> dict:
        return json.loads(self.config_blob(image_id))

    def tags_of(self, image_id: str) -> list[str]:
        return [r["ref"] for r in self.store.query(
            "SELECT ref FROM image_tags WHERE image_id=? ORDER BY ref", (image_id,))
            if "@" not in r["ref"]]

    def refs_of(self, image_id: str) -> list[str]:
        return [r["ref"] for r in self.store.query(
            "SELECT ref FROM image_tags WHERE image_id=? ORDER BY ref", (image_id,))]

    def digests_of(self, image_id: str) -> list[str]:
        """Docker's RepoDigests: `name@sha256:...` of the manifests this image was
        pulled by or pushed as. Kept beside the tags, so `run name@sha256:...` finds it."""
        return [r["ref"] for r in self.store.query(
            "SELECT ref FROM image_tags WHERE image_id=? ORDER BY ref", (image_id,))
            if "@" in r["ref"]]

    def add_digest(self, image_id: str, ref: str) -> None:
        with self.store.tx() as c:
            c.execute("INSERT OR REPLACE INTO image_tags(ref, image_id) VALUES (?, ?)",
                      (normalize_ref(ref), image_id))

    def exists(self, image_id: str) -> bool:
        return self.store.one("SELECT 1 FROM images WHERE id=?", (image_id,)) is not None

    def parent_of(self, image_id: str) -> str:
        row = self.store.one("SELECT doc FROM images WHERE id=?", (image_id,))
        return (json.loads(row["doc"]).get("parent") or "") if row else ""

    def _children(self) -> dict[str, int]:
        """How many images name each image as their parent."""
        out: dict[str, int] = {}
        for r in self.store.query("SELECT doc FROM images"):
            p = json.loads(r["doc"]).get("parent")
            if p:
                out[p] = out.get(p, 0) + 1
        return out

    def layer_dirs(self, image_id: str) -> list[str]:
        """Overlay lower directories, topmost first (overlayfs's lowerdir order)."""
        diff_ids = self.config(image_id).get("rootfs", {}).get("diff_ids", [])
        return [layers.layer_dir(self.root, d) for d in reversed(diff_ids)]

    def size(self, image_id: str) -> int:
        total = 0
        for d in self.config(image_id).get("rootfs", {}).get("diff_ids", []):
            try:
                total += os.path.getsize(layers.layer_tar(self.root, d))
            except OSError:
                pass
        return total

    def inspect(self, ref: str) -> dict:
        image_id = self.resolve(ref)
        cfg = self.config(image_id)
        return {
            "Id": image_id,
            "RepoTags": self.tags_of(image_id),
            "RepoDigests": self.digests_of(image_id),
            "Parent": self.parent_of(image_id),
            "Comment": cfg.get("comment", ""),
            "Created": cfg.get("created", ""),
            "Container": "",
            "DockerVersion": "",
            "Author": cfg.get("author", ""),
            "Config": cfg.get("config", {}),
            "Architecture": cfg.get("architecture", "amd64"),
            "Os": cfg.get("os", "linux"),
            "Size": self.size(image_id),
            "VirtualSize": self.size(image_id),
            "RootFS": {"Type": "layers", "Layers": cfg.get("rootfs", {}).get("diff_ids", [])},
            "Metadata": {"LastTagTime": ""},
        }

    def list(self, all_: bool = False) -> list[dict]:
        """Docker's /images/json; intermediate images of builds (untagged, with a
        child) only with all_, as `docker images` hides them."""
        out = []
        children = self._children()
        for r in self.store.query("SELECT id, created, doc FROM images ORDER BY created DESC"):
            tags = self.tags_of(r["id"])
            if not all_ and not tags and children.get(r["id"]):
                continue
            cfg = self.config(r["id"])
            out.append({
                "Id": r["id"], "ParentId": json.loads(r["doc"]).get("parent") or "",
                "RepoTags": tags,
                "RepoDigests": self.digests_of(r["id"]), "Created": _epoch(cfg.get("created")),
                "Size": self.size(r["id"]), "VirtualSize": self.size(r["id"]),
                "SharedSize": -1, "Labels": (cfg.get("config") or {}).get("Labels") or {},
                "Containers": -1,
            })
        return out

    def in_use(self, image_id: str) -> bool:
        return self.store.one("SELECT 1 FROM containers WHERE image_id=? LIMIT 1",
                              (image_id,)) is not None

    def tag(self, ref: str, new: str) -> None:
        if not valid_ref(new) or "@" in new:
            raise InvalidArgument(f"invalid reference format: {new!r} (use [HOST[:PORT]/]"
                                  "NAME[:TAG], lower-case)")
        image_id = self.resolve(ref)
        with self.store.tx() as c:
            c.execute("INSERT OR REPLACE INTO image_tags(ref, image_id) VALUES (?, ?)",
                      (normalize_ref(new), image_id))

    def remove(self, ref: str, force: bool = False) -> builtins.list[dict]:
        with self.lock:
            return self._remove(ref, force)

    def _remove(self, ref: str, force: bool = False) -> builtins.list[dict]:
        """Untag a reference, or delete by id; delete the image when no tag is left."""
        image_id = self.resolve(ref)
        norm = normalize_ref(ref)
        out: builtins.list[dict] = []
        by_tag = self.store.one("SELECT 1 FROM image_tags WHERE ref=?", (norm,)) is not None
        # Digest references (pulled name@sha256:...) do not keep an image on their own:
        # removing its last tag removes it, as `docker rmi` does.
        plain_tags, tags = self.tags_of(image_id), self.refs_of(image_id)
        if by_tag and (len(plain_tags) > 1 or ("@" in norm and len(tags) > 1)):
            with self.store.tx() as c:
                c.execute("DELETE FROM image_tags WHERE ref=?", (norm,))
            return [{"Untagged": norm}]
        if not by_tag and len(plain_tags) > 1 and not force:
            raise Conflict(f"unable to delete {image_id[7:19]} (must be forced) - image is "
                           f"referenced in multiple repositories")
        if self.in_use(image_id):
            raise Conflict(f"unable to remove image {ref}: image is being used by a container "
                           "(remove the container first)")
        if self._children().get(image_id):
            if by_tag:      # the last tag of a base image: untag it, keep the content
                with self.store.tx() as c:
                    c.execute("DELETE FROM image_tags WHERE image_id=?", (image_id,))
                return [{"Untagged": t} for t in tags]
            raise Conflict(f"conflict: unable to delete {image_id[7:19]} (cannot be forced) "
                           "- image has dependent child images")
        out += [{"Untagged": t} for t in tags]
        out += self._delete(image_id)
        self._gc_layers()
        return out

    def _delete(self, image_id: str) -> builtins.list[dict]:
        """Delete an image, then each parent left untagged, childless and unused."""
        out: builtins.list[dict] = []
        while image_id:
            parent = self.parent_of(image_id)
            with self.store.tx() as c:
                c.execute("DELETE FROM image_tags WHERE image_id=?", (image_id,))
                c.execute("DELETE FROM images WHERE id=?", (image_id,))
            try:
                os.unlink(self.config_path(image_id))
            except FileNotFoundError:
                pass
            out.append({"Deleted": image_id})
            if not parent or not self.exists(parent) or self.tags_of(parent) or \
                    self.in_use(parent) or self._children().get(parent):
                break
            image_id = parent
        return out

    def history(self, ref: str) -> builtins.list[dict]:
        """Docker's /images/{name}/history: newest first, one row per history entry,
        each non-empty entry matched with its layer in order."""
        image_id = self.resolve(ref)
        cfg = self.config(image_id)
        diff_ids = list(cfg.get("rootfs", {}).get("diff_ids", []))
        hist = cfg.get("history") or [{"created": cfg.get("created", "")} for _ in diff_ids]
        rows = []
        for h in hist:
            size = 0
            if not h.get("empty_layer") and diff_ids:
                try:
                    size = disk_usage(layers.layer_dir(self.root, diff_ids.pop(0)))
                except OSError:
                    size = 0
            rows.append({"Id": "<missing>", "Created": _epoch(h.get("created")),
                         "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                         "Comment": h.get("comment", "")})
        rows.reverse()
        if rows:
            rows[0]["Id"], rows[0]["Tags"] = image_id, self.tags_of(image_id) or None
        return rows

    def prune(self, all_: bool = False) -> dict:
        """Remove dangling (untagged) images, or with all_ every image no container
        uses; images in use are never touched."""
        deleted, reclaimed = [], 0
        with self.lock:
            for r in self.store.query("SELECT id FROM images"):
                image_id = r["id"]
                # Parents of other images go with their last child, not on their own.
                if not self.exists(image_id) or self.in_use(image_id) or \
                        (not all_ and self.tags_of(image_id)) or \
                        self._children().get(image_id):
                    continue
                before = self.size(image_id)
                tags = self.refs_of(image_id)
                deleted += [{"Untagged": t} for t in tags] + self._delete(image_id)
                reclaimed += before
            if deleted:
                self._gc_layers()
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def _gc_layers(self) -> None:
        used = set()
        for r in self.store.query("SELECT id FROM images"):
            used.update(self.config(r["id"]).get("rootfs", {}).get("diff_ids", []))
        for name in os.listdir(self.root.layers):
            if name.startswith(".") or name.endswith(".tar"):
                continue
            if "sha256:" + name not in used:
                layers.remove(self.root, "sha256:" + name)


def _epoch(created: str | None) -> int:
    if not created:
        return 0
    try:
        return int(time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone)
    except ValueError:
        return 0
