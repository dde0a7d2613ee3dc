"""Binds, named and anonymous volumes, --volumes-from, --mount, and `volume` commands."""

import json
import os

from helpers import assert_clean, mounts_under


def test_bind_mounts(host, tmp_path):
    (tmp_path / "in").write_text("host\n")
    out = host.fab("run", "--rm", "-v", f"{tmp_path}:/h", "busybox", "sh", "-c",
                   "cat /h/in; echo ctr > /h/out").out
    assert out == "host\n" and (tmp_path / "out").read_text() == "ctr\n"
    r = host.fab("run", "--rm", "-v", f"{tmp_path}:/h:ro", "busybox", "sh", "-c",
                 "echo x > /h/no", check=False)
    assert r.code != 0 and "Read-only file system" in r.err
    out = host.fab("run", "--rm", "--mount", f"type=bind,source={tmp_path},target=/m,readonly",
                   "busybox", "sh", "-c", "cat /m/in; touch /m/x 2>/dev/null || echo ro").out
    assert out == "host\nro\n"
    out = host.fab("run", "--rm", "--mount", "type=tmpfs,target=/t", "busybox", "sh", "-c",
                   "grep ' /t ' /proc/mounts | cut -d' ' -f3").out
    assert out == "tmpfs\n"


def test_named_volume_outlives_container(host):
    host.fab("run", "--name", "w", "-v", "data:/data", "busybox", "sh", "-c",
             "echo kept > /data/f")
    assert "data" in host.fab("volume", "ls", "-q").out.split()
    host.fab("rm", "-v", "w")  # -v removes anonymous volumes only
    assert host.fab("volume", "ls", "-q").out.split() == ["data"]
    assert host.fab("run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/f").out == "kept\n"
    doc = json.loads(host.fab("volume", "inspect", "data").out)[0]
    assert doc["Name"] == "data" and doc["Driver"] == "local"
    assert os.path.isdir(doc["Mountpoint"])
    host.fab("create", "--name", "user", "-v", "data:/d", "busybox")
    r = host.fab("volume", "rm", "data", check=False)
    assert r.code != 0 and "in use" in r.err
    host.fab("rm", "user")
    assert host.fab("volume", "rm", "data").out == "data\n"
    assert host.fab("volume", "ls", "-q").out == ""


def test_anonymous_volumes_and_volumes_from(host):
    host.fab("run", "-d", "--name", "src", "-v", "/anon", "busybox", "sh", "-c",
             "echo shared > /anon/f; exec sleep 300")
    vols = host.fab("volume", "ls", "-q").out.split()
    assert len(vols) == 1 and len(vols[0]) == 64
    host.fab("exec", "src", "true")
    assert host.fab("run", "--rm", "--volumes-from", "src", "busybox", "cat",
                    "/anon/f").out == "shared\n"
    host.fab("rm", "-f", "src")  # without -v the anonymous volume stays
    assert host.fab("volume", "ls", "-q").out.split() == vols
    assert host.fab("volume", "prune", "-f").code == 0
    assert host.fab("volume", "ls", "-q").out == ""
    host.fab("run", "--name", "x", "-v", "/anon2", "busybox", "true")
    host.fab("rm", "-v", "x")
    assert host.fab("volume", "ls", "-q").out == ""
    host.fab("run", "--rm", "-v", "/anon3", "busybox", "true")
    assert host.fab("volume", "ls", "-q").out == ""
    host.fab("run", "--rm", "-v", "named:/n", "busybox", "true")
    assert host.fab("volume", "ls", "-q").out == "named\n"  # --rm keeps named volumes


def test_volume_commands(host):
    assert host.fab("volume", "create", "v1").out == "v1\n"
    anon = host.fab("volume", "create").out.strip()
    assert len(anon) == 64
    ls = host.fab("volume", "ls").out.splitlines()
    assert ls[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(ln.split()[1] for ln in ls[1:]) == sorted(["v1", anon])
    r = host.fab("volume", "inspect", "nope", check=False)
    assert r.code != 0
    r = host.fab("volume", "rm", "nope", check=False)
    assert r.code != 0 and "no such volume" in r.err.lower()
    host.fab("volume", "prune", "-f")
    # Docker 20.10 prunes every unused local volume, named ones too
    assert host.fab("volume", "ls", "-q").out == ""


def test_missing_bind_source_leaves_nothing(host, tmp_path):
    r = host.fab("run", "-v", f"{tmp_path}/missing:/x", "busybox", "true", check=False)
    assert r.code == 125 and r.err.count("\n") == 1, r
    assert not os.path.exists(tmp_path / "missing")
    assert host.fab("volume", "ls", "-q").out == ""
    assert mounts_under(host.root) == []
    assert_clean(host)
