"""Corrupt and hostile archives: one clear error line, a non-zero exit, and nothing
left behind (no layer, no image, no temp file), checked on the root's directories."""

import gzip
import json
import os
import tarfile

from archives import (
    docker_archive,
    entry,
    image_config,
    oci_archive,
    rootfs_layer,
    sha,
    tar_bytes,
    write_tar,
)


def _snapshot(host):
    out = {}
    for sub in ("layers", "images", "tmp"):
        d = os.path.join(host.root, sub)
        out[sub] = sorted(os.listdir(d)) if os.path.isdir(d) else []
    return out


def _layer(build):
    return tar_bytes(build)


IMPORTS = {
    "dotdot": lambda tf: entry(tf, "../../evil", b"x"),
    "dotdot-inside": lambda tf: entry(tf, "bin/../../evil", b"x"),
    "absolute": lambda tf: entry(tf, "/etc/evil", b"x"),
    "symlink-then-write": lambda tf: (entry(tf, "etc", kind=tarfile.SYMTYPE, link="/etc"),
                                      entry(tf, "etc/evil", b"x")),
    "relative-symlink-then-write": lambda tf: (
        entry(tf, "up", kind=tarfile.SYMTYPE, link="../../../../.."),
        entry(tf, "up/tmp/evil", b"x")),
    "hardlink-abs": lambda tf: entry(tf, "shadow", kind=tarfile.LNKTYPE, link="/etc/shadow"),
    "hardlink-escape": lambda tf: entry(tf, "shadow", kind=tarfile.LNKTYPE,
                                        link="../../../etc/shadow"),
    "hardlink-missing": lambda tf: entry(tf, "shadow", kind=tarfile.LNKTYPE, link="etc/shadow"),
    "device": lambda tf: entry(tf, "bin/disk", kind=tarfile.BLKTYPE, dev=(8, 0)),
    "bad-whiteout": lambda tf: (entry(tf, "d/", kind=tarfile.DIRTYPE), entry(tf, "d/.wh..", b"")),
}


def _check_rejected(host, before, r, what):
    assert r.code != 0, (what, r)
    err = r.err.decode() if isinstance(r.err, bytes) else r.err
    assert len(err.strip().splitlines()) == 1, (what, err)
    print(f"{what}: {err.strip()}")
    assert _snapshot(host) == before, what
    assert not any(n.startswith(".extract-") for n in os.listdir(os.path.join(host.root,
                                                                              "layers")))


def test_hostile_imports_rejected(host, tmp_path):
    host.fab("images")            # daemon up, root made
    before = _snapshot(host)
    for name, build in IMPORTS.items():
        path = tmp_path / f"{name}.tar"
        path.write_bytes(_layer(build))
        r = host.fab("import", str(path), f"hostile:{name}", check=False)
        _check_rejected(host, before, r, name)
    # Corrupt and truncated gzip, and a file that is no tar at all.
    good = gzip.compress(rootfs_layer())
    for name, data in (("truncated-gzip", good[:len(good) // 2]),
                       ("garbage-gzip", b"\x1f\x8b\x08\x00" + os.urandom(4000)),
                       # Fails at once but is still being sent: the error must arrive.
                       ("big-garbage-gzip", b"\x1f\x8b\x08\x00" + os.urandom(16 << 20)),
                       ("not-a-tar", b"hello world\n" * 100)):
        path = tmp_path / name
        path.write_bytes(data)
        r = host.fab("import", str(path), check=False)
        _check_rejected(host, before, r, name)
    # Bad change and bad name: refused, nothing kept.
    path = tmp_path / "ok.tar"
    path.write_bytes(rootfs_layer())
    _check_rejected(host, before, host.fab("import", "-c", "RUN rm -rf /", str(path),
                                           check=False), "bad change")
    _check_rejected(host, before, host.fab("import", str(path), "Bad:Name!", check=False),
                    "bad name")
    assert "hostile" not in host.fab("images").out
    assert not os.path.exists("/etc/evil") and not os.path.exists("/tmp/evil")


def test_hostile_loads_rejected(host, tmp_path):
    host.fab("images")
    before = _snapshot(host)
    good = rootfs_layer()
    bad = _layer(lambda tf: (entry(tf, "x", kind=tarfile.SYMTYPE, link="/"),
                             entry(tf, "x/evil", b"x")))
    cfg2 = image_config([sha(good), sha(bad)], Cmd=["sh"])
    gz = gzip.compress(good)
    cases = {
        # The first layer is fine and ingested; the second fails: the first must go too.
        "second-layer-hostile": docker_archive(str(tmp_path / "a.tar"), [good, bad], cfg2,
                                               ["h:1"]),
        "bad-diff-id": docker_archive(str(tmp_path / "b.tar"), [good],
                                      image_config(["sha256:" + "0" * 64]), ["h:2"]),
        "manifest-escapes": docker_archive(str(tmp_path / "c.tar"), [good],
                                           image_config([sha(good)]), ["h:3"],
                                           manifest_layers=["../../../etc/passwd"]),
        "manifest-absolute": docker_archive(str(tmp_path / "d.tar"), [good],
                                            image_config([sha(good)]), ["h:4"],
                                            manifest_layers=["/etc/passwd"]),
        "truncated-gzip-layer": docker_archive(str(tmp_path / "e.tar"), [good],
                                               image_config([sha(good)]), ["h:5"],
                                               gzip_layers=(0,)),
        "oci-bad-blob-digest": oci_archive(str(tmp_path / "f.tar"), [good],
                                           image_config([sha(good)]), "h:6",
                                           corrupt_layer=True),
        "layer-symlink-out": write_tar(str(tmp_path / "g.tar"), {
            "manifest.json": json.dumps([{
                "Config": sha(image_config([sha(good)]))[7:] + ".json",
                "RepoTags": ["h:7"], "Layers": ["l/layer.tar"]}]).encode(),
            sha(image_config([sha(good)]))[7:] + ".json": image_config([sha(good)])},
            symlinks={"l/layer.tar": "../../../../etc/passwd"}),
        "config-digest-mismatch": write_tar(str(tmp_path / "h.tar"), {
            "manifest.json": json.dumps([{"Config": "0" * 64 + ".json", "RepoTags": ["h:8"],
                                          "Layers": ["l/layer.tar"]}]).encode(),
            "0" * 64 + ".json": image_config([sha(good)]), "l/layer.tar": good}),
        "neither-format": write_tar(str(tmp_path / "i.tar"), {"hello": b"x"}),
        "bad-json": write_tar(str(tmp_path / "j.tar"), {"manifest.json": b"[{oops"}),
    }
    # Truncate the gzip layer inside archive e by rewriting it.
    path_e = cases["truncated-gzip-layer"]
    with tarfile.open(path_e) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
    files = {k: (v[:len(gz) // 2] if k.endswith("layer.tar") else v) for k, v in files.items()}
    write_tar(path_e, files)
    for name, path in cases.items():
        r = host.fab("load", "-i", path, check=False)
        _check_rejected(host, before, r, name)
    # A truncated outer archive, and garbage on stdin.
    raw = open(cases["bad-diff-id"], "rb").read()
    r = host.fab("load", input=raw[:len(raw) // 3], check=False)
    _check_rejected(host, before, r, "truncated archive")
    r = host.fab("load", input=b"\x1f\x8b\x08\x00garbage", check=False)
    _check_rejected(host, before, r, "garbage stdin")
    assert "h " not in host.fab("images").out
