"""An image's filesystem mounted for a build step: the image's layers under a fresh
overlay upper directory, as a container's root is made. COPY and ADD write into it
(paths resolved inside it, as in a container), and the upper directory, whiteouts
included, becomes the step's layer exactly as `commit` makes one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from fabric.engine.archive import View
from fabric.engine.commit import write_layer
from fabric.runtime import rootfs


@dataclass
class Mounted:
    root: str
    upper: str
    view: View

    def layer(self, dest_tar: str) -> None:
        write_layer(self.upper, dest_tar, lambda rel: False)


@contextlib.contextmanager
def mounted(images, image_id: str, workdir: str) -> Iterator[Mounted]:
    cdir = tempfile.mkdtemp(prefix="mnt-", dir=workdir)
    lowers = images.layer_dirs(image_id) if image_id else []
    if not lowers:                       # FROM scratch: overlay needs a lower directory
        lowers = [os.path.join(cdir, "empty")]
        os.mkdir(lowers[0])
    target = rootfs.mount(cdir, lowers)
    try:
        yield Mounted(target, rootfs.paths(cdir)[1], View(target, []))
    finally:
        rootfs.unmount(cdir)
