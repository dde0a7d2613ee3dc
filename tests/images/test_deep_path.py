"""A valid layer path 1,200 directories deep (Linux allows it: it is under PATH_MAX)
must go through every command that walks a tree: import, run, diff, commit, cp, rm,
rmi. Python's own walkers recurse once per level and stop near 1,000."""

import io
import os
import tarfile

from fabric.fsutil import rmtree

DEPTH = 1200
DEEP = "/".join(["d"] * DEPTH)


def _deep_tar(path: str, dir_members: bool) -> None:
    with tarfile.open(path, "w") as tf:
        if dir_members:
            for i in range(1, DEPTH + 1):
                ti = tarfile.TarInfo("/".join(["d"] * i))
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
        data = b"deep\n"
        ti = tarfile.TarInfo(DEEP + "/f")
        ti.size, ti.mode = len(data), 0o644
        tf.addfile(ti, io.BytesIO(data))


def test_deep_layer_path(host, tmp_path):
    for i, dir_members in enumerate((True, False)):
        tar = str(tmp_path / f"deep{i}.tar")
        _deep_tar(tar, dir_members)
        host.fab("import", tar, f"deep:{i}")
    assert int(host.fab("image", "inspect", "-f", "{{.Size}}", "deep:1").out) > 0
    host.fab("save", "-o", str(tmp_path / "saved.tar"), "deep:0")
    # a container makes the same tree; every command walking its upper dir copes
    host.fab("run", "--name", "mk", "busybox", "sh", "-c",
             f"mkdir -p /{DEEP} && echo deep > /{DEEP}/f")
    changes = host.fab("diff", "mk").out.splitlines()
    assert len(changes) == DEPTH + 1 and changes[-1] == f"A /{DEEP}/f"
    host.fab("commit", "mk", "deep:2")
    out = str(tmp_path / "out")
    try:
        host.fab("cp", "mk:/d", out)
        with open(os.path.join(out, *DEEP.split("/")[1:], "f")) as f:
            assert f.read() == "deep\n"
    finally:
        rmtree(out)   # pytest's own clean-up of old temporary directories would recurse
    assert host.fab("run", "--rm", "deep:2", "cat", f"/{DEEP}/f").out == "deep\n"
    host.fab("rm", "mk")
    host.fab("rmi", "deep:0", "deep:1", "deep:2")
    layers = os.path.join(host.root, "layers")
    busybox_layers = host.fab("image", "inspect", "-f", "{{len .RootFS.Layers}}",
                              "busybox").out.strip()
    assert len([n for n in os.listdir(layers) if not n.endswith(".tar")]) == \
        int(busybox_layers)
