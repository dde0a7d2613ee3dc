"""`pull`: an image from a registry into the store, layer by layer, verified.

1. The manifest (or manifest list) for the reference, byte for byte (`skopeo inspect
   --raw`); a list gives the entry for the wanted platform, or Docker's "no matching
   manifest" line. Its digest is checked when the reference names one.
2. The config blob, checked against the manifest's digest. Its id is the image's id:
   an image already stored is "up to date" without another byte.
3. Only the layers whose diff_id the store lacks are fetched (three at a time, through
   skopeo's proxy), each checked against its blob digest while it arrives, then
   decompressed and checked against the config's diff_id as it is extracted.
4. Registration under the store's lock, after every layer is in; a failure anywhere
   removes what this pull added (the Work area), so nothing is ever half-stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from fabric.errors import InvalidArgument, NotFound
from fabric.images import platform, progress, registry_access, skopeo
from fabric.images.archive import CHUNK, DIGEST, Work
from fabric.images.layers import exists as layer_exists
from fabric.images.load import INDEX_TYPES, MANIFEST_TYPES, check_config
from fabric.images.progress import Emit, status
from fabric.images.proxy import Proxy
from fabric.images.reference import Reference, parse

PARALLEL = 3
MAX_CONFIG = 16 << 20
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


class _Manifest:
    """The platform manifest to pull: its digest, config descriptor and layers."""

    def __init__(self, raw: bytes, digest: str):
        try:
            doc = json.loads(raw)
        except ValueError:
            raise skopeo.RegistryError(f"manifest {digest} is not valid JSON") from None
        mt = doc.get("mediaType") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or doc.get("schemaVersion") == 1 or mt in SCHEMA1:
            raise skopeo.RegistryError(
                "the registry serves a Docker v1 manifest (schemaVersion 1), which fabric "
                "does not pull: push the image again with a current client")
        self.digest, self.doc = digest, doc
        config, layers = doc.get("config"), doc.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list) or \
                not all(isinstance(d, dict) and DIGEST.fullmatch(str(d.get("digest")))
                        for d in [config, *layers]):
            raise skopeo.RegistryError(f"manifest {digest} lacks a valid config or layers list")
        self.config, self.layers = config, layers

    @staticmethod
    def is_list(raw: bytes) -> bool:
        try:
            doc = json.loads(raw)
        except ValueError:
            return False
        return isinstance(doc, dict) and (doc.get("mediaType") in INDEX_TYPES or
                                          ("manifests" in doc and "layers" not in doc))


def _choose(raw: bytes, want: platform.Platform) -> str:
    entries = json.loads(raw).get("manifests") or []
    for e in entries:
        if isinstance(e, dict) and want.matches(e.get("platform")) and \
                e.get("mediaType", MANIFEST_TYPES[1]) in MANIFEST_TYPES and \
                DIGEST.fullmatch(str(e.get("digest"))):
            return e["digest"]
    raise NotFound(f"no matching manifest for {want} in the manifest list entries")


def _read_blob(px: Proxy, image: int, desc: dict, out, on_bytes=None) -> str:
    """Copy one blob from the proxy to `out`; its sha256. skopeo's own digest check
    (FinishPipe) and ours must both pass."""
    digest, size = desc["digest"], int(desc.get("size") or 0)
    fd, pipe_id = px.get_blob(image, digest, size)
    h = hashlib.sha256()
    failed: list[BaseException] = []

    def reader() -> None:
        try:
            with os.fdopen(fd, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
        except BaseException as e:  # noqa: B036 - reported by the caller's thread
            failed.append(e)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        px.finish(pipe_id)
    except skopeo.RegistryError as e:
        t.join(timeout=30)
        if "corrupted blob" in e.message or "bytes in blob" in e.message:
            raise skopeo.RegistryError(f"filesystem layer verification failed for digest "
                                       f"{digest}") from None
        raise
    t.join()
    if failed:
        raise failed[0]
    if "sha256:" + h.hexdigest() != digest:
        raise skopeo.RegistryError(f"filesystem layer verification failed for digest {digest}")
    return "sha256:" + h.hexdigest()


class _Counting:
    """A reader that reports how many bytes went through it."""

    def __init__(self, f, on_bytes):
        self.f, self.on_bytes = f, on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.on_bytes(len(data))
        return data


class Puller:
    def __init__(self, images, ref: Reference, creds: registry_access.Credentials,
                 emit: Emit, want: platform.Platform):
        self.images, self.ref, self.creds, self.emit, self.want = \
            images, ref, creds, emit, want

    def run(self) -> str:
        with Work(self.images.root, "pull") as w:
            acc = registry_access.access(self.images.root, self.ref.domain, self.creds, w.dir)
            flags = acc.flags()
            top = skopeo.inspect_raw(self.ref, flags, w.dir)
            top_digest = _sha(top)
            if self.ref.digest and top_digest != self.ref.digest:
                raise skopeo.RegistryError(f"manifest verification failed for digest "
                                           f"{self.ref.digest}")
            raw, digest = top, top_digest
            if _Manifest.is_list(top):
                digest = _choose(top, self.want)
                raw = skopeo.inspect_raw(self.ref.with_digest(digest), flags, w.dir)
                if _sha(raw) != digest:
                    raise skopeo.RegistryError(f"manifest verification failed for digest "
                                               f"{digest}")
            m = _Manifest(raw, digest)
            self.emit(status(f"Pulling from {self.ref.name.split('/', 1)[-1]}"
                             if self.ref.domain == "docker.io" else
                             f"Pulling from {self.ref.path}", self.ref.tag or self.ref.digest))
            with Proxy(flags, w.dir, self.ref) as px:
                image = px.open_image(f"docker://{self.ref.full_name}@{digest}")
                blob = self._config(px, image, m)
                cfg = check_config(blob)
                if not self.want.matches(cfg):
                    raise NotFound(f"image with reference {self.ref.familiar()} was found but "
                                   f"does not match the specified platform: wanted "
                                   f"{self.want}, actual: {cfg.get('os')}/"
                                   f"{cfg.get('architecture')}")
                diff_ids = cfg["rootfs"]["diff_ids"]
                if len(diff_ids) != len(m.layers):
                    raise skopeo.RegistryError(f"manifest {digest} lists {len(m.layers)} "
                                               f"layers but its config has {len(diff_ids)}")
                image_id = _sha(blob)
                todo = [(d, diff) for d, diff in zip(m.layers, diff_ids)
                        if not layer_exists(self.images.root, diff)]
                if not todo and self.images.exists(image_id):
                    return self._finish(image_id, blob, top_digest, newer=False)
                for d in m.layers:
                    present = not any(d is t[0] for t in todo)
                    self.emit(status("Already exists" if present else "Pulling fs layer",
                                     _short(d["digest"])))
                files = self._download(px, image, [d for d, _ in todo], w)
            # Under the store's lock from the first extraction to registration: a
            # concurrent rmi's layer collection must not take a layer of this image.
            with self.images.lock:
                try:
                    self._extract(w, todo, files)
                    return self._finish(image_id, blob, top_digest, newer=True)
                except BaseException:
                    w.rollback()
                    raise

    def _config(self, px: Proxy, image: int, m: _Manifest) -> bytes:
        if int(m.config.get("size") or 0) > MAX_CONFIG:
            raise skopeo.RegistryError(f"image config {m.config['digest']} is too large")

        class Buf(list):
            def write(self, b: bytes) -> None:
                self.append(b)
        buf = Buf()
        _read_blob(px, image, m.config, buf)
        return b"".join(buf)

    def _download(self, px: Proxy, image: int, descs: list[dict], w: Work) -> list[str]:
        """Fetch blobs into the work area, PARALLEL at a time; their paths, in order."""
        paths = [w.path(f"blob-{i}") for i in range(len(descs))]
        errors: list[BaseException] = []

        def one(i: int) -> None:
            d = descs[i]
            tick = progress.Throttle(self.emit, "Downloading", _short(d["digest"]),
                                     int(d.get("size") or 0))
            try:
                with open(paths[i], "wb") as out:
                    _read_blob(px, image, d, out, tick.add)
            except BaseException as e:  # noqa: B036 - re-raised below, in the caller
                errors.append(e)
                return
            self.emit(status("Verifying Checksum", _short(d["digest"])))
            self.emit(status("Download complete", _short(d["digest"])))
        for start in range(0, len(descs), PARALLEL):
            threads = [threading.Thread(target=one, args=(i,), daemon=True)
                       for i in range(start, min(start + PARALLEL, len(descs)))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
        return paths

    def _extract(self, w: Work, todo: list[tuple[dict, str]], files: list[str]) -> None:
        """Decompress, check and extract each new layer, in order (parents first)."""
        for (d, diff), path in zip(todo, files):
            ident = _short(d["digest"])
            tick = progress.Throttle(self.emit, "Extracting", ident, os.path.getsize(path))
            with open(path, "rb") as f:
                w.add_layer(_Counting(f, tick.add), expect=diff, what=f"layer {d['digest']}")
            os.unlink(path)
            self.emit(status("Pull complete", ident))

    def _finish(self, image_id: str, blob: bytes, top_digest: str, newer: bool) -> str:
        tags = [self.ref.familiar()] if not self.ref.digest else []
        with self.images.lock:
            image_id = self.images.register(blob, tags)
            self.images.add_digest(image_id, f"{self.ref.name}@{top_digest}")
        self.emit(status(f"Digest: {top_digest}"))
        self.emit(status(f"Status: {'Downloaded newer image' if newer else 'Image is up to date'}"
                         f" for {self.ref.familiar()}"))
        return image_id


def pull(images, ref: str, creds: registry_access.Credentials, emit: Emit,
         platform_text: str | None = None) -> str:
    """Pull `ref` (tag `latest` when none is given); returns the image id."""
    r = parse(ref)
    if not r.tag and not r.digest:
        r = r.with_tag("latest")
    if not r.path:
        raise InvalidArgument(f"invalid reference format: {ref!r}")
    return Puller(images, r, creds, emit, platform.parse(platform_text)).run()
