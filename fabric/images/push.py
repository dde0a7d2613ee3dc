"""`push`: an image from the store to a registry, with `skopeo copy`.

The image is laid out as an OCI image layout whose blobs are hard links to the stored
layer tars (no copy of the data) beside the config blob byte for byte, so the image id
survives the trip. skopeo compresses the layers as it uploads them and writes a Docker
schema 2 manifest (`--format v2s2`), as `docker push` does. What it prints tells which
layers it uploaded ("Copying blob <diff_id>") and which the registry already had (it
names the registry's compressed digest instead); while it runs, the read offset of each
layer file it holds open (/proc/PID/fdinfo) is that layer's progress.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time

from fabric.errors import InvalidArgument, NotFound
from fabric.images import layers, progress, registry_access, skopeo
from fabric.images.archive import Work
from fabric.images.progress import Emit, status
from fabric.images.reference import Reference, parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
POLL = 0.1


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def put_blob(blobs: str, data: bytes) -> dict:
    """Write a blob into an OCI layout's blobs/sha256; its descriptor's digest and size."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest[7:]), "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def oci_layout(images, image_id: str, path: str) -> list[str]:
    """Write the image as an OCI layout at `path`; returns its diff_ids."""
    blob = images.config_blob(image_id)
    diff_ids = json.loads(blob).get("rootfs", {}).get("diff_ids", [])
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data: bytes) -> dict:
        return put_blob(blobs, data)
    descs = []
    for d in diff_ids:
        src, dest = layers.layer_tar(images.root, d), os.path.join(blobs, d[7:])
        try:
            os.link(src, dest)
        except OSError:     # another filesystem (a shared layer store): copy it
            shutil.copyfile(src, dest)
        descs.append({"mediaType": OCI_LAYER, "digest": d, "size": os.path.getsize(dest)})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **put(blob)}, "layers": descs}
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, **put(json.dumps(manifest).encode())}]}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return diff_ids


class _Watch:
    """Per-layer upload progress from the offsets of the layer files skopeo reads."""

    def __init__(self, pid: int, blobs: str, sizes: dict[str, int], emit: Emit):
        self.pid, self.blobs, self.emit = pid, blobs, emit
        self.ticks = {h: progress.Throttle(emit, "Pushing", h[:12], n) for h, n in sizes.items()}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        fds = f"/proc/{self.pid}/fd"
        while not self.stop.wait(POLL):
            try:
                names = os.listdir(fds)
            except OSError:
                return
            for n in names:
                try:
                    target = os.readlink(os.path.join(fds, n))
                    if os.path.dirname(target) != self.blobs:
                        continue
                    tick = self.ticks.get(os.path.basename(target))
                    if tick is None:
                        continue
                    with open(f"/proc/{self.pid}/fdinfo/{n}") as f:
                        pos = int(f.readline().split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if pos > tick.done:
                    tick.add(pos - tick.done)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def _copy(layout: str, ref: Reference, acc: registry_access.Access, workdir: str,
          diff_ids: list[str], emit: Emit) -> tuple[str, set[str]]:
    """Run skopeo copy; (manifest digest, diff_ids it uploaded)."""
    digest_file = os.path.join(workdir, "digest")
    cmd = skopeo.base_cmd(workdir) + [
        "copy", "--retry-times", "0", "--format", "v2s2", "--digestfile", digest_file,
        *acc.flags("dest-"), f"oci:{layout}", skopeo.docker_url(ref)]
    uploaded: set[str] = set()
    blobs = os.path.join(layout, "blobs", "sha256")
    sizes = {d[7:]: os.path.getsize(os.path.join(blobs, d[7:])) for d in diff_ids}
    started = time.monotonic()
    err_path = os.path.join(workdir, "skopeo.err")
    with open(err_path, "w") as err, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=workdir) as p:
        watch = _Watch(p.pid, blobs, sizes, emit)
        try:
            assert p.stdout is not None
            for line in p.stdout:
                words = line.split()
                if words[:2] == ["Copying", "blob"] and len(words) > 2 and words[2] in diff_ids:
                    uploaded.add(words[2])
                    emit(progress.moving("Pushing", _short(words[2]), 0, sizes[words[2][7:]]))
            p.wait(timeout=max(1.0, skopeo.TIMEOUT - (time.monotonic() - started)))
        finally:
            watch.close()
            if p.poll() is None:
                p.kill()
    if p.returncode != 0:
        with open(err_path) as f:
            raise skopeo.translate(f.read().strip(), ref)
    with open(digest_file) as f:
        return f.read().strip(), uploaded


def push(images, name: str, tag: str, creds: registry_access.Credentials, emit: Emit) -> dict:
    """Push `name[:tag]`; returns Docker's aux record {Tag, Digest, Size}."""
    ref = parse(name + (f":{tag}" if tag else ""))
    if ref.digest:
        raise InvalidArgument("cannot push a digest reference: push a tag")
    ref = ref if ref.tag else ref.with_tag("latest")
    try:
        image_id = images.resolve(ref.familiar())
    except NotFound:
        raise NotFound(f"An image does not exist locally with the tag: {ref.name}") from None
    shown = ref.full_name if ref.domain == "docker.io" else ref.name
    emit(status(f"The push refers to repository [{shown}]"))
    with Work(images.root, "push") as w:
        layout = w.path("oci")
        diff_ids = oci_layout(images, image_id, layout)
        for d in reversed(diff_ids):
            emit(status("Preparing", _short(d)))
        acc = registry_access.access(images.root, ref.domain, creds, w.dir)
        digest, uploaded = _copy(layout, ref, acc, w.dir, diff_ids, emit)
        raw = skopeo.inspect_raw(ref.with_digest(digest), acc.flags(), w.dir)
    for d in reversed(diff_ids):
        emit(status("Pushed" if d in uploaded else "Layer already exists", _short(d)))
    with images.lock:
        if images.exists(image_id):
            images.add_digest(image_id, f"{ref.name}@{digest}")
    aux = {"Tag": ref.tag, "Digest": digest, "Size": len(raw)}
    emit(status(f"{ref.tag}: digest: {digest} size: {len(raw)}"))
    emit({"progressDetail": {}, "aux": aux})
    return aux
