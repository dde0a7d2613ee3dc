"""`image save`: a docker-save archive that `docker load` accepts.

Layout (Docker 20.10's): <id hex>.json holds the config blob byte for byte (so the
image id survives a round trip), each layer sits in <v1 id>/layer.tar with VERSION and
a v1 json beside it, and manifest.json plus repositories tie them to their tags. The
stored layer tars are the exact bytes of each diff_id, so Docker's checks pass.
"""

import hashlib
import io
import json
import os
import tarfile

from fabric.images import layers
from fabric.images.store import ImageStore, normalize_ref

EPOCH = 0   # fixed member times: saving twice gives the same archive


def plan(images: ImageStore, names: list[str]) -> list[tuple[str, list[str]]]:
    """Resolve every name first, so a bad one fails before any byte is sent. As with
    Docker, an image named by tag carries that tag; one named by id carries none."""
    out: dict[str, list[str]] = {}
    for n in names:
        image_id = images.resolve(n)
        tags = out.setdefault(image_id, [])
        norm = normalize_ref(n)
        if norm in images.tags_of(image_id) and norm not in tags:
            tags.append(norm)
    return list(out.items())


def _v1_id(parent: str, diff_id: str) -> str:
    # Docker derives v1 ids from the chain of layers; any stable chain digest will do,
    # since `docker load` reads the layer paths from manifest.json.
    return hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o644, EPOCH
    tf.addfile(ti, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str) -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
    tf.addfile(ti)


def write(images: ImageStore, todo: list[tuple[str, list[str]]], out) -> None:
    """Write the archive for the planned images to a writable stream."""
    manifest: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for image_id, tags in todo:
            blob = images.config_blob(image_id)
            cfg = json.loads(blob)
            parent, paths = "", []
            for diff_id in cfg.get("rootfs", {}).get("diff_ids", []):
                v1 = _v1_id(parent, diff_id)
                if v1 not in written:
                    written.add(v1)
                    _add_dir(tf, v1)
                    _add_bytes(tf, f"{v1}/VERSION", b"1.0")
                    v1json = {"id": v1, "created": "1970-01-01T00:00:00Z",
                              "container_config": {"Cmd": None}, "os": "linux"}
                    if parent:
                        v1json["parent"] = parent
                    _add_bytes(tf, f"{v1}/json", json.dumps(v1json).encode())
                    path = layers.layer_tar(images.root, diff_id)
                    ti = tarfile.TarInfo(f"{v1}/layer.tar")
                    ti.size, ti.mode, ti.mtime = os.path.getsize(path), 0o644, EPOCH
                    with open(path, "rb") as f:
                        tf.addfile(ti, f)
                paths.append(f"{v1}/layer.tar")
                parent = v1
            cfg_name = image_id[7:] + ".json"
            if cfg_name not in written:
                written.add(cfg_name)
                _add_bytes(tf, cfg_name, blob)
            manifest.append({"Config": cfg_name, "RepoTags": tags or None, "Layers": paths})
            for t in tags:
                repo, _, tag = t.rpartition(":")
                repositories.setdefault(repo, {})[tag] = parent
        _add_bytes(tf, "manifest.json", json.dumps(manifest).encode())
        if repositories:
            _add_bytes(tf, "repositories", json.dumps(repositories).encode())
