"""Builders for the archives the image tests feed to fabric, made with tarfile in the
test's tmp_path: a small busybox root filesystem, docker-save and OCI layouts."""

import gzip
import hashlib
import io
import json
import os
import tarfile

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "cat", "ls", "echo", "id", "pwd", "env", "test", "true", "sleep", "touch",
           "mkdir", "rm")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(tf: tarfile.TarFile, name: str, data: bytes | None = None, *, kind=tarfile.REGTYPE,
          link: str = "", mode: int | None = None, dev: tuple[int, int] = (0, 0)) -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mtime = kind, link, 1_600_000_000
    ti.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    ti.devmajor, ti.devminor = dev
    if data is not None:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)


def tar_bytes(build) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        build(tf)
    return buf.getvalue()


def rootfs_layer(extra=None) -> bytes:
    """/bin/busybox with a few applets, /etc/passwd, and whatever extra() adds."""
    def build(tf):
        for d in ("bin", "etc", "tmp", "data"):
            entry(tf, d + "/", kind=tarfile.DIRTYPE)
        with open(BUSYBOX, "rb") as f:
            entry(tf, "bin/busybox", f.read(), mode=0o755)
        for a in APPLETS:
            entry(tf, f"bin/{a}", kind=tarfile.SYMTYPE, link="busybox")
        entry(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n")
        entry(tf, "etc/group", b"root:x:0:\napp:x:1000:\n")
        if extra:
            extra(tf)
    return tar_bytes(build)


def image_config(diff_ids: list[str], **config) -> bytes:
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
           "config": config, "rootfs": {"type": "layers", "diff_ids": diff_ids},
           "history": [{"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i}"}
                       for i in range(len(diff_ids))]}
    return json.dumps(cfg).encode()


def write_tar(path: str, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> str:
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            entry(tf, name, data)
        for name, link in (symlinks or {}).items():
            entry(tf, name, kind=tarfile.SYMTYPE, link=link)
    return path


def docker_archive(path: str, layers: list[bytes], config: bytes, tags: list[str],
                   gzip_layers: tuple[int, ...] = (), manifest_layers=None) -> str:
    files, names = {}, []
    for i, layer in enumerate(layers):
        name = f"{hashlib.sha256(str(i).encode() + layer).hexdigest()}/layer.tar"
        files[name] = gzip.compress(layer) if i in gzip_layers else layer
        files[os.path.dirname(name) + "/VERSION"] = b"1.0"
        names.append(name)
    cfg_name = sha(config)[7:] + ".json"
    files[cfg_name] = config
    manifest = [{"Config": cfg_name, "RepoTags": tags,
                 "Layers": manifest_layers if manifest_layers is not None else names}]
    files["manifest.json"] = json.dumps(manifest).encode()
    return write_tar(path, files)


def oci_archive(path: str, layers: list[bytes], config: bytes, name: str | None,
                nested: bool = True, corrupt_layer: bool = False) -> str:
    blobs = {}

    def blob(data: bytes, media: str) -> dict:
        blobs["blobs/sha256/" + sha(data)[7:]] = data
        return {"mediaType": media, "digest": sha(data), "size": len(data)}
    layer_descs = []
    for layer in layers:
        d = blob(gzip.compress(layer), "application/vnd.oci.image.layer.v1.tar+gzip")
        layer_descs.append(d)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": blob(config, "application/vnd.oci.image.config.v1+json"),
                "layers": layer_descs}
    mdesc = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    mdesc["platform"] = {"architecture": "amd64", "os": "linux"}
    if corrupt_layer:
        key = "blobs/sha256/" + layer_descs[-1]["digest"][7:]
        # Same content, other bytes: the diff_id holds, the descriptor digest does not.
        blobs[key] = gzip.compress(layers[-1], mtime=12345)
    if nested:
        inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [mdesc]}
        top = blob(json.dumps(inner).encode(), "application/vnd.oci.image.index.v1+json")
    else:
        top = mdesc
    if name:
        top["annotations"] = {"io.containerd.image.name": name,
                              "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [top]}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
             "index.json": json.dumps(index).encode(), **blobs}
    return write_tar(path, files)
