"""`image load`: docker-save archives and OCI image-layout archives.

Everything is checked before anything is kept: the config blob against its name or
descriptor digest, each layer against its descriptor digest and the config's diff_id.
Layers are ingested into a Work area whose failure removes every layer this load
added, and images are registered only once all their layers are in.
"""

import hashlib
import json

from fabric.errors import InvalidArgument
from fabric.images import platform
from fabric.images.archive import DIGEST, Archive, HashingReader, Work
from fabric.images.store import normalize_ref, valid_ref

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
NAME_KEYS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


class _Image:
    def __init__(self, blob: bytes, tags: list[str]):
        self.blob, self.tags = blob, tags
        self.layers: list = []   # (open() -> stream, descriptor digest or None, what)


def load(images, body) -> list[str]:
    """Load every image of the archive in `body`; return Docker's output lines."""
    with Work(images.root, "load") as w:
        # Spooled outside the lock: a slow upload must not hold up other image commands.
        ar = Archive(w.spool(body))
        with images.lock:
            try:
                return _load(images, w, ar)
            except BaseException:
                w.rollback()
                raise
            finally:
                ar.close()


def _load(images, w: Work, ar: Archive) -> list[str]:
    if ar.has("manifest.json"):
        plan = _docker(ar)
    elif ar.has("index.json"):
        plan = _oci(ar)
    else:
        raise InvalidArgument("archive has neither manifest.json nor index.json: it is "
                              "not a docker save or OCI image-layout archive")
    for img in plan:
        diff_ids = check_config(img.blob)["rootfs"]["diff_ids"]
        for (opener, digest, what), diff_id in zip(img.layers, diff_ids):
            src = HashingReader(opener())
            w.add_layer(src, expect=diff_id, what=what)
            src.drain()
            if digest is not None and src.digest != digest:
                raise InvalidArgument(f"{what}: content digest {src.digest} does not "
                                      f"match its descriptor {digest}")
    out = []
    for img in plan:
        image_id = images.register(img.blob, img.tags)
        out += [f"Loaded image: {t}" for t in img.tags] or [f"Loaded image ID: {image_id}"]
    return out


def _json(data: bytes, what: str):
    try:
        return json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"{what} is not valid JSON: {e}") from None


def check_config(blob: bytes) -> dict:
    cfg = _json(blob, "image config")
    rootfs = cfg.get("rootfs") if isinstance(cfg, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and DIGEST.fullmatch(d)
                                                 for d in diff_ids):
        raise InvalidArgument("image config has no valid rootfs.diff_ids list")
    if not diff_ids:
        raise InvalidArgument("image config names no layers")
    return cfg


def _tags(refs, what: str) -> list[str]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        raise InvalidArgument(f"{what}: RepoTags must be a list")
    out = []
    for r in refs:
        norm = normalize_ref(r) if isinstance(r, str) else ""
        if not valid_ref(norm):
            raise InvalidArgument(f"{what}: invalid image reference {r!r}")
        out.append(norm)
    return out


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---- docker save --------------------------------------------------------------------
def _docker(ar: Archive) -> list[_Image]:
    manifest = _json(ar.read("manifest.json", "manifest.json"), "manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise InvalidArgument("manifest.json must be a non-empty list of images")
    out = []
    for n, entry in enumerate(manifest):
        what = f"manifest.json entry {n}"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or \
                not isinstance(entry.get("Layers"), list):
            raise InvalidArgument(f"{what} lacks Config or Layers")
        blob = ar.read(entry["Config"], "image config")
        # The config's name is its digest (<hex>.json, or blobs/sha256/<hex>): check it.
        base = entry["Config"].rsplit("/", 1)[-1].removesuffix(".json")
        if DIGEST.fullmatch("sha256:" + base) and _sha(blob) != "sha256:" + base:
            raise InvalidArgument(f"image config {entry['Config']!r} does not match its digest "
                                  f"(content is {_sha(blob)})")
        cfg = check_config(blob)
        if len(cfg["rootfs"]["diff_ids"]) != len(entry["Layers"]):
            raise InvalidArgument(f"{what} lists {len(entry['Layers'])} layers but its config "
                                  f"has {len(cfg['rootfs']['diff_ids'])}")
        img = _Image(blob, _tags(entry.get("RepoTags"), what))
        for lp in entry["Layers"]:
            if not isinstance(lp, str):
                raise InvalidArgument(f"{what}: layer names must be strings")
            ar.member(lp, "layer")      # refuse names outside the archive up front
            img.layers.append((lambda lp=lp: ar.open(lp, "layer"), None, f"layer {lp}"))
        out.append(img)
    return out


# ---- OCI image layout ---------------------------------------------------------------
def _blob_path(desc, what: str) -> str:
    digest = desc.get("digest") if isinstance(desc, dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise InvalidArgument(f"{what} has no valid sha256 digest")
    return "blobs/sha256/" + digest[7:]


def _blob(ar: Archive, desc, what: str) -> bytes:
    data = ar.read(_blob_path(desc, what), what)
    if _sha(data) != desc["digest"]:
        raise InvalidArgument(f"{what} {desc['digest']} does not match its content "
                              f"({_sha(data)})")
    if "size" in desc and desc["size"] != len(data):
        raise InvalidArgument(f"{what} {desc['digest']} has size {len(data)}, its descriptor "
                              f"says {desc['size']}")
    return data


def _oci(ar: Archive) -> list[_Image]:
    if not ar.has("oci-layout"):
        raise InvalidArgument("archive has index.json but no oci-layout file")
    layout = _json(ar.read("oci-layout", "oci-layout"), "oci-layout")
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise InvalidArgument("oci-layout lacks imageLayoutVersion")
    index = _json(ar.read("index.json", "index.json"), "index.json")
    found: list[tuple[dict, list[str]]] = []
    _walk(ar, index, [], found, 0)
    if not found:
        raise InvalidArgument(f"the archive holds no image for {platform.native()}")
    out: list[_Image] = []
    seen: dict[bytes, _Image] = {}
    for desc, tags in found:
        manifest = _json(_blob(ar, desc, "image manifest"), "image manifest")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
            raise InvalidArgument(f"image manifest {desc['digest']} has no layers list")
        blob = _blob(ar, manifest.get("config"), "image config")
        cfg = check_config(blob)
        if len(cfg["rootfs"]["diff_ids"]) != len(manifest["layers"]):
            raise InvalidArgument(f"image manifest {desc['digest']} lists "
                                  f"{len(manifest['layers'])} layers but its config has "
                                  f"{len(cfg['rootfs']['diff_ids'])}")
        if blob in seen:                      # one image listed under several names
            seen[blob].tags += [t for t in tags if t not in seen[blob].tags]
            continue
        img = seen[blob] = _Image(blob, tags)
        for ld in manifest["layers"]:
            path = _blob_path(ld, "layer descriptor")
            if "tar" not in str(ld.get("mediaType", "tar")):
                raise InvalidArgument(f"layer {ld['digest']} has unsupported media type "
                                      f"{ld.get('mediaType')!r}")
            ar.member(path, "layer")
            img.layers.append((lambda path=path: ar.open(path, "layer"), ld["digest"],
                               f"layer {ld['digest']}"))
        out.append(img)
    return out


def _name(desc: dict) -> list[str]:
    ann = desc.get("annotations") or {}
    for key in NAME_KEYS:
        ref = ann.get(key)
        # A bare ref.name such as `latest` is only a tag, with no repository to give it.
        if isinstance(ref, str) and (":" in ref or "/" in ref or key == NAME_KEYS[0]):
            norm = normalize_ref(ref)
            if not valid_ref(norm):
                raise InvalidArgument(f"index.json: invalid image reference {ref!r}")
            return [norm]
    return []


def _walk(ar: Archive, index, names: list[str], found: list, depth: int) -> None:
    if depth > 4:
        raise InvalidArgument("index.json nests indexes too deeply")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise InvalidArgument("index.json has no manifests list")
    for desc in index["manifests"]:
        if not isinstance(desc, dict):
            raise InvalidArgument("index.json has a malformed descriptor")
        tags = _name(desc) or names
        plat = desc.get("platform") or {}
        if plat and not platform.native().matches(plat):
            continue
        mt = desc.get("mediaType")
        if mt in INDEX_TYPES:
            nested = _json(_blob(ar, desc, "image index"), "image index")
            _walk(ar, nested, tags, found, depth + 1)
        elif mt in MANIFEST_TYPES or mt is None:
            found.append((desc, tags))
        else:
            raise InvalidArgument(f"index.json names unsupported media type {mt!r}")
