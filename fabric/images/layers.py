"""Layer storage: each layer kept as its uncompressed tar (so `save` reproduces its
diff_id exactly) and extracted once into a directory used as an overlay lower layer."""

import hashlib
import os
import tarfile
import tempfile

from fabric.errors import InvalidArgument
from fabric.fsutil import disk_usage, rmtree
from fabric.images import extract
from fabric.paths import HostRoot


def layer_dir(root: HostRoot, diff_id: str) -> str:
    return os.path.join(root.layers, diff_id.split(":", 1)[-1])


def layer_tar(root: HostRoot, diff_id: str) -> str:
    return layer_dir(root, diff_id) + ".tar"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def exists(root: HostRoot, diff_id: str) -> bool:
    return os.path.isdir(layer_dir(root, diff_id)) and os.path.exists(layer_tar(root, diff_id))


def ingest(root: HostRoot, tar_path: str, diff_id: str | None = None) -> tuple[str, int]:
    """Store an uncompressed layer tar (moved from tar_path); return (diff_id, size).

    Extraction happens into a temporary directory beside the final one and is renamed
    into place, so a crash never leaves a half-extracted layer under its real name.
    """
    # Callers that hashed the tar while writing it pass the digest to save a re-read.
    diff_id = diff_id or sha256_file(tar_path)
    final = layer_dir(root, diff_id)
    if os.path.isdir(final) and os.path.exists(final + ".tar"):
        os.unlink(tar_path)
        return diff_id, disk_usage(final)
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=root.layers)
    try:
        try:
            with tarfile.open(tar_path, "r:") as tf:
                extract.extract_layer(tf, tmp)
        except (tarfile.TarError, EOFError) as e:
            raise InvalidArgument(f"layer archive is corrupt: {e}") from None
        except OSError as e:
            # e.g. a name too long, a link to a directory: the layer cannot be used.
            raise InvalidArgument(f"layer cannot be extracted: {e}") from None
        if os.path.isdir(final):
            rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tar_path, final + ".tar")
    return diff_id, disk_usage(final)


def remove(root: HostRoot, diff_id: str) -> None:
    d = layer_dir(root, diff_id)
    rmtree(d, ignore_errors=True)
    try:
        os.unlink(d + ".tar")
    except FileNotFoundError:
        pass
