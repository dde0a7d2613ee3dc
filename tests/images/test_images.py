"""Images end to end: import, load (docker save and OCI layout), save, history, prune,
tag/rmi, commit and diff, each through the real CLI and daemon."""

import gzip
import hashlib
import json
import os
import tarfile

from archives import docker_archive, entry, image_config, oci_archive, rootfs_layer, sha, tar_bytes


def _ls(host, sub):
    d = os.path.join(host.root, sub)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_import_then_run_with_changes(host, tmp_path):
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(rootfs_layer()))
    r = host.fab("image", "import", "-m", "my rootfs", "-c", "ENV GREETING=hello",
                 "-c", 'CMD ["/bin/sh", "-c", "echo $GREETING from $(pwd)"]', "-c",
                 "WORKDIR /tmp", str(path), "myroot:1")
    image_id = r.out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert host.fab("run", "--rm", "myroot:1").out == "hello from /tmp\n"
    # Also from stdin, untagged: the id is printed and the image is dangling.
    r2 = host.fab("import", "-", input=rootfs_layer())
    assert r2.out.startswith(b"sha256:")
    assert "<none>" in host.fab("images").out
    hist = host.fab("history", "myroot:1").out.splitlines()
    assert hist[0].split()[:3] == ["IMAGE", "CREATED", "CREATED"]
    assert image_id[7:19] in hist[1] and "my rootfs" in hist[1]
    assert host.fab("image", "inspect", "-f", "{{.Comment}}", "myroot:1").out == "my rootfs\n"


def _layers_with_whiteouts():
    def base(tf):
        entry(tf, "data/a", b"A\n")
        entry(tf, "data/b", b"B\n")
        entry(tf, "opq/", kind=tarfile.DIRTYPE)
        entry(tf, "opq/old1", b"1")
        entry(tf, "opq/old2", b"2")
    l1 = rootfs_layer(base)

    def top(tf):
        entry(tf, "data/.wh.a", b"")
        entry(tf, "data/c", b"C\n")
        entry(tf, "opq/", kind=tarfile.DIRTYPE)
        entry(tf, "opq/.wh..wh..opq", b"")
        entry(tf, "opq/new", b"N")
        entry(tf, "vol/", kind=tarfile.DIRTYPE)
    l2 = tar_bytes(top)
    return l1, l2


CONFIG = dict(Env=["PATH=/bin", "FOO=bar"], Entrypoint=["/bin/sh", "-c"],
              Cmd=["echo $FOO; pwd; id -u; ls /data; ls /opq"], WorkingDir="/data",
              User="1000", ExposedPorts={"8080/tcp": {}}, Volumes={"/vol": {}})


def test_load_docker_save_multilayer_whiteouts_and_config(host, tmp_path):
    l1, l2 = _layers_with_whiteouts()
    cfg = image_config([sha(l1), sha(l2)], **CONFIG)
    arc = docker_archive(str(tmp_path / "img.tar"), [l1, l2], cfg, ["multi:v1"], gzip_layers=(1,))
    assert host.fab("load", "-i", arc).out == "Loaded image: multi:v1\n"
    out = host.fab("run", "--rm", "multi:v1").out.split()
    assert out == ["bar", "/data", "1000", "b", "c", "new"]
    doc = json.loads(host.fab("image", "inspect", "multi:v1").out)[0]
    assert doc["Id"] == sha(cfg)
    assert doc["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert doc["Config"]["Volumes"] == {"/vol": {}}
    assert len(doc["RootFS"]["Layers"]) == 2
    host.fab("create", "--name", "c1", "multi:v1")
    c = host.inspect("c1")
    assert c["Config"]["User"] == "1000" and c["Config"]["WorkingDir"] == "/data"
    assert "FOO=bar" in c["Config"]["Env"]
    assert "8080/tcp" in c["Config"]["ExposedPorts"]
    assert [m["Destination"] for m in c["Mounts"]] == ["/vol"]
    # Entrypoint kept, Cmd replaced by the run arguments.
    assert host.fab("run", "--rm", "multi:v1", "echo $FOO-x").out == "bar-x\n"


def test_load_oci_layout_nested_index(host, tmp_path):
    l1, l2 = _layers_with_whiteouts()
    cfg = image_config([sha(l1), sha(l2)], Env=["PATH=/bin"], Cmd=["ls", "/data"])
    arc = oci_archive(str(tmp_path / "oci.tar"), [l1, l2], cfg, "example.org/oci/img:2.0")
    assert host.fab("image", "load", input=open(arc, "rb").read()).out == \
        b"Loaded image: example.org/oci/img:2.0\n"
    assert host.fab("run", "--rm", "example.org/oci/img:2.0").out.split() == ["b", "c"]
    # Names with slashes reach every image route.
    assert host.fab("image", "inspect", "-f", "{{.Id}}", "example.org/oci/img:2.0").out \
        == sha(cfg) + "\n"
    assert len(host.fab("history", "example.org/oci/img:2.0").out.splitlines()) == 3
    host.fab("tag", "example.org/oci/img:2.0", "example.org/oci/other")
    assert host.fab("rmi", "example.org/oci/other").out == \
        "Untagged: example.org/oci/other:latest\n"
    # Unnamed: Docker reports the id.
    arc2 = oci_archive(str(tmp_path / "oci2.tar"), [l1], image_config([sha(l1)], Cmd=["true"]),
                       None, nested=False)
    out = host.fab("load", "-i", arc2).out
    assert out.startswith("Loaded image ID: sha256:")


def test_save_rm_load_round_trip(host, tmp_path):
    bb_id = host.fab("image", "inspect", "-f", "{{.Id}}", "busybox").out.strip()
    host.fab("tag", "busybox", "mybox:7")
    out = str(tmp_path / "saved.tar")
    host.fab("save", "-o", out, "busybox", "mybox:7")
    with tarfile.open(out) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile("manifest.json"))
        assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "mybox:7"]
        blob = tf.extractfile(manifest[0]["Config"]).read()
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == bb_id
        layer = tf.extractfile(manifest[0]["Layers"][0]).read()
        assert "sha256:" + hashlib.sha256(layer).hexdigest() == \
            json.loads(blob)["rootfs"]["diff_ids"][0]
        assert "repositories" in names
        assert os.path.dirname(manifest[0]["Layers"][0]) + "/VERSION" in names
    # To stdout too.
    raw = host.fab("image", "save", "mybox:7", input=b"")
    assert raw.out[:512] and raw.code == 0
    bad = host.fab("save", "-o", str(tmp_path / "bad.tar"), "busybox", "nosuch", check=False)
    assert bad.code == 125 and "No such image: nosuch" in bad.err
    assert not os.path.exists(tmp_path / "bad.tar")
    host.fab("rmi", "busybox", "mybox:7")
    assert _ls(host, "layers") == []
    r = host.fab("load", "-i", out).out.splitlines()
    assert sorted(r) == ["Loaded image: busybox:latest", "Loaded image: mybox:7"]
    assert host.fab("image", "inspect", "-f", "{{.Id}}", "mybox:7").out.strip() == bb_id
    assert host.fab("run", "--rm", "mybox:7", "echo", "ok").out == "ok\n"


def test_tag_rmi_history_prune(host, tmp_path):
    host.fab("tag", "busybox", "a:1")
    host.fab("image", "tag", "a:1", "b")
    ls = host.fab("images").out
    assert "a " in ls and "b " in ls and "busybox" in ls
    assert len(host.fab("images", "-q").out.split()) == 1
    assert host.fab("rmi", "a:1").out == "Untagged: a:1\n"
    hist = host.fab("image", "history", "b").out.splitlines()
    assert len(hist) == 3 and "CMD" in hist[1]
    assert host.fab("history", "-q", "b").out.splitlines()[0] == \
        host.fab("images", "-q", "b").out.strip()
    long = host.fab("history", "--no-trunc", "b").out
    assert "busybox-static from Debian, all applets linked" in long
    # A dangling image goes with plain prune; a tagged unused one only with -a.
    (tmp_path / "r.tar").write_bytes(rootfs_layer())
    dangling = host.fab("import", str(tmp_path / "r.tar")).out.strip()
    host.fab("import", str(tmp_path / "r.tar"), "kept:1")
    r = host.fab("image", "prune", "-f").out
    assert f"deleted: {dangling}" in r and "Total reclaimed space" in r
    assert "kept" in host.fab("images").out
    host.fab("create", "--name", "user", "b")
    r = host.fab("image", "prune", "-a", input="y\n").out
    assert "WARNING!" in r and "untagged: kept:1" in r
    ls = host.fab("images").out
    assert "kept" not in ls and "busybox" in ls
    assert host.fab("rmi", "busybox").out == "Untagged: busybox:latest\n"
    rm = host.fab("rmi", "b", check=False)
    assert rm.code != 0 and "being used" in rm.err


def test_commit_and_diff(host):
    host.fab("run", "-d", "--name", "w", "busybox", "sh", "-c",
             "echo hi > /new; rm /etc/group; rm -rf /usr/sbin; mkdir /usr/sbin; "
             "touch /usr/sbin/only; mkdir -p /srv/app; sleep 300")
    for _ in range(50):
        if "A /srv/app" in host.fab("diff", "w").out:
            break
    diff = host.fab("diff", "w").out.splitlines()
    assert "A /new" in diff and "D /etc/group" in diff and "C /etc" in diff
    assert "A /srv" in diff and "A /srv/app" in diff
    assert "C /usr/sbin" in diff and "A /usr/sbin/only" in diff
    assert not any(line.endswith(("/etc/hosts", "/etc/hostname", "/etc/resolv.conf"))
                   for line in diff)
    image_id = host.fab("commit", "-m", "snap", "-a", "me", "-c", "ENV X=1", "w",
                        "snap:1").out.strip()
    assert image_id.startswith("sha256:")
    assert host.inspect("w")["State"]["Status"] == "running"   # paused and unpaused
    out = host.fab("run", "--rm", "snap:1", "sh", "-c",
                   "cat /new; test -e /etc/group || echo gone; echo X=$X; ls /usr/sbin").out
    assert out == "hi\ngone\nX=1\nonly\n"
    doc = json.loads(host.fab("image", "inspect", "snap:1").out)[0]
    assert doc["Author"] == "me" and doc["Comment"] == "snap"
    assert doc["Config"]["Cmd"][0] == "sh" and len(doc["RootFS"]["Layers"]) == 2
    assert "snap" in host.fab("history", "snap:1").out.splitlines()[1]
    r = host.fab("commit", "nosuch", check=False)
    assert r.code == 125 and "No such container" in r.err
