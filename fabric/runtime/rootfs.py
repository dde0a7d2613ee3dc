"""The container's root: an overlay of the image's read-only layers and its own
read-write upper directory, mounted at <container>/rootfs."""

import ctypes
import errno
import os

from fabric.errors import FabricError
from fabric.fsutil import rmtree

_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def paths(cdir: str) -> tuple[str, str, str]:
    return (os.path.join(cdir, "rootfs"), os.path.join(cdir, "upper"),
            os.path.join(cdir, "work"))


def prepare(cdir: str) -> None:
    for p in paths(cdir):
        os.makedirs(p, exist_ok=True)


def is_mounted(target: str) -> bool:
    try:
        return os.stat(target).st_dev != os.stat(os.path.dirname(target)).st_dev
    except FileNotFoundError:
        return False


def mount(cdir: str, lowers: list[str]) -> str:
    target, upper, work = paths(cdir)
    prepare(cdir)
    if is_mounted(target):
        return target
    if not lowers:
        raise FabricError("image has no layers")
    # A single lower layer with no upper would be read-only; we always have an upper.
    opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},index=off"
    if _libc.mount(b"overlay", target.encode(), b"overlay", 0, opts.encode()) != 0:
        e = ctypes.get_errno()
        raise FabricError(f"cannot mount the container's overlay root: {os.strerror(e)}")
    return target


def unmount(cdir: str) -> None:
    target = paths(cdir)[0]
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):
            raise FabricError(f"cannot unmount {target}: {os.strerror(e)}")


def destroy(cdir: str) -> None:
    """Unmount and delete the container's directory."""
    unmount(cdir)
    rmtree(cdir, ignore_errors=True)
