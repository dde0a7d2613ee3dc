"""top, stats, cp (both ways, running and stopped, hostile paths) and port."""

import io
import os
import subprocess
import tarfile

from helpers import mounts_under, status

SETUP = ("mkdir -p /d/sub; echo hi > /d/f; echo x > /d/sub/g; ln -s /etc /d/etc; "
         "ln -s ../../../../../../ /d/up; exec sleep 300")


def test_top(host):
    host.fab("run", "-d", "--name", "t", "busybox", "sh", "-c", "sleep 300 & exec sleep 301")
    lines = host.fab("top", "t").out.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    cmds = sorted(ln.split(None, 7)[7] for ln in lines[1:])
    assert cmds == ["sleep 300", "sleep 301"]
    out = host.fab("top", "t", "-o", "pid,comm").out.splitlines()
    assert out[0].split() == ["PID", "COMMAND"] and len(out) == 3
    host.fab("stop", "-t", "0", "t")
    r = host.fab("top", "t", check=False)
    assert r.code != 0 and "not running" in r.err


def test_stats_no_stream(host):
    host.fab("run", "-d", "--name", "s", "-m", "64m", "--pids-limit", "50", "busybox",
             "sh", "-c", "sleep 300 & sleep 300 & exec sleep 300")
    lines = host.fab("stats", "--no-stream").out.splitlines()
    assert lines[0].split("   ")[:3] == ["CONTAINER ID", "NAME", "CPU %"]
    assert "MEM USAGE / LIMIT" in lines[0] and lines[0].rstrip().endswith("PIDS")
    row = lines[1]
    assert row.split()[1] == "s" and row.split()[-1] == "3"
    assert " / 64MiB" in row
    out = host.fab("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemPerc}}",
                   "s").out
    name, pids, perc = out.split()
    assert (name, pids) == ("s", "3") and perc.endswith("%")
    api = host.api().get("/containers/s/stats", stream=False)
    assert api["memory_stats"]["limit"] == 64 * 1024 * 1024
    assert api["pids_stats"] == {"current": 3, "limit": 50}
    assert api["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert api["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert "io_service_bytes_recursive" in api["blkio_stats"]
    assert host.fab("stats", "--no-stream", "nosuch", check=False).code != 0


def test_stats_cpu_and_stream(host):
    host.fab("run", "-d", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done")
    cpu = host.fab("stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy").out.strip()
    assert float(cpu.rstrip("%")) > 20, cpu
    host.fab("create", "--name", "idle", "busybox")
    out = host.fab("stats", "--no-stream", "idle").out.splitlines()[1]
    assert "0.00%" in out and "0B / 0B" in out
    p = host.popen("stats", "--format", "{{.Name}} {{.PIDs}}", "busy", stdout=subprocess.PIPE,
                   text=True)
    try:
        lines = [p.stdout.readline(), p.stdout.readline()]
    finally:
        p.kill()
        p.wait()
    assert lines == ["busy 1\n", "busy 1\n"]


def test_cp_out_of_running_container(host, tmp_path):
    host.fab("run", "-d", "--name", "c", "busybox", "sh", "-c", SETUP)
    host.fab("exec", "c", "true")
    # file to new name, file into dir
    host.fab("cp", "c:/d/f", str(tmp_path / "f1"))
    assert (tmp_path / "f1").read_text() == "hi\n"
    os.mkdir(tmp_path / "dir")
    host.fab("cp", "c:/d/f", str(tmp_path / "dir"))
    assert (tmp_path / "dir" / "f").read_text() == "hi\n"
    # dir to a new path: created with the contents
    host.fab("cp", "c:/d", str(tmp_path / "new"))
    assert (tmp_path / "new" / "sub" / "g").read_text() == "x\n"
    assert os.readlink(tmp_path / "new" / "etc") == "/etc"
    # dir into an existing dir, and /. copies the contents
    host.fab("cp", "c:/d", str(tmp_path / "dir"))
    assert (tmp_path / "dir" / "d" / "f").exists()
    os.mkdir(tmp_path / "dot")
    host.fab("cp", "c:/d/.", str(tmp_path / "dot"))
    assert (tmp_path / "dot" / "sub" / "g").exists()
    # symlinks resolve inside the container, never the host
    host.fab("cp", "c:/d/etc/hostname", str(tmp_path / "hn"))
    assert (tmp_path / "hn").read_text().strip() == host.inspect("c")["Config"]["Hostname"]
    host.fab("cp", "c:/d/up/etc/hostname", str(tmp_path / "hn2"))
    assert (tmp_path / "hn2").read_text() == (tmp_path / "hn").read_text()
    host.fab("cp", "c:/../../../../etc/hostname", str(tmp_path / "hn3"))
    assert (tmp_path / "hn3").read_text() == (tmp_path / "hn").read_text()
    # errors
    r = host.fab("cp", "c:/nope", str(tmp_path / "x"), check=False)
    assert r.code != 0 and "No such container:path" in r.err
    r = host.fab("cp", "c:/d", str(tmp_path / "f1"), check=False)
    assert r.code != 0 and "cannot copy a directory to a file" in r.err
    r = host.fab("cp", "c:/dev/null", str(tmp_path / "null"), check=False)
    assert r.code != 0 and "device" in r.err
    # tar on stdout
    out, _ = host.popen("cp", "c:/d", "-", stdout=subprocess.PIPE).communicate(timeout=30)
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:
        names = tf.getnames()
    assert sorted(names) == ["d", "d/etc", "d/f", "d/sub", "d/sub/g", "d/up"]


def test_cp_into_container(host, tmp_path):
    host.fab("run", "-d", "--name", "c", "busybox", "sh", "-c", SETUP)
    host.fab("exec", "c", "true")
    (tmp_path / "a.txt").write_text("A\n")
    (tmp_path / "tree" / "in").mkdir(parents=True)
    (tmp_path / "tree" / "in" / "b").write_text("B\n")
    host.fab("cp", str(tmp_path / "a.txt"), "c:/d/")
    host.fab("cp", str(tmp_path / "a.txt"), "c:/renamed")
    host.fab("cp", str(tmp_path / "tree"), "c:/newtree")
    host.fab("cp", str(tmp_path / "tree"), "c:/d")
    host.fab("cp", str(tmp_path / "tree") + "/.", "c:/d/sub")
    out = host.fab("exec", "c", "sh", "-c",
                   "cat /d/a.txt /renamed /newtree/in/b /d/tree/in/b /d/sub/in/b; "
                   "stat -c %u /renamed").out
    assert out == "A\nA\nB\nB\nB\n0\n"
    # writing through a symlink lands inside the container: /d/etc -> /etc (container's)
    host.fab("cp", str(tmp_path / "a.txt"), "c:/d/up/tmp/")
    assert host.fab("exec", "c", "cat", "/tmp/a.txt").out == "A\n"
    assert not os.path.exists("/tmp/a.txt") or (tmp_path / "a.txt").read_bytes() != \
        open("/tmp/a.txt", "rb").read()  # noqa: SIM115
    r = host.fab("cp", str(tmp_path / "tree"), "c:/renamed", check=False)
    assert r.code != 0 and "cannot copy a directory to a file" in r.err
    r = host.fab("cp", str(tmp_path / "a.txt"), "c:/no/such/dir/", check=False)
    assert r.code != 0
    # a hostile tar on stdin: `..` and device nodes are refused
    for make in (_tar_dotdot, _tar_device):
        r = host.fab("cp", "-", "c:/d", input=make(), check=False)
        assert r.code != 0, r
    assert host.fab("exec", "c", "ls", "/d").out.split() == \
        ["a.txt", "etc", "f", "sub", "tree", "up"]
    # a good tar on stdin
    host.fab("cp", "-", "c:/d", input=_tar_ok())
    assert host.fab("exec", "c", "cat", "/d/fromtar").out == "T"


def test_cp_stopped_container(host, tmp_path):
    host.fab("run", "--name", "c", "-v", "vol:/vol", "busybox", "sh", "-c",
             "echo s > /st; echo v > /vol/inside")
    assert status(host, "c") == "exited"
    host.fab("cp", "c:/st", str(tmp_path / "st"))
    host.fab("cp", "c:/vol/inside", str(tmp_path / "inside"))
    assert (tmp_path / "st").read_text() == "s\n"
    assert (tmp_path / "inside").read_text() == "v\n"
    (tmp_path / "n").write_text("N")
    host.fab("cp", str(tmp_path / "n"), "c:/vol/n")
    host.fab("cp", str(tmp_path / "n"), "c:/etc/n")
    assert mounts_under(os.path.join(host.root, "containers")) == []
    host.fab("start", "-a", "c")  # reruns the command; the new files are there
    assert host.fab("run", "--rm", "-v", "vol:/vol", "busybox", "cat", "/vol/n").out == "N"


def test_port_formatting(host):
    host.fab("run", "-d", "--name", "p", "busybox", "sleep", "300")
    assert host.fab("port", "p").out == ""
    r = host.fab("port", "p", "80", check=False)
    assert r.code == 1 and "No public port '80/tcp' published for p" in r.err
    from fabric.cli.extra import port_lines
    ports = {"443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32769"}],
             "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"},
                        {"HostIp": "::", "HostPort": "32768"}],
             "53/udp": None}
    assert port_lines(ports, None) == ["80/tcp -> 0.0.0.0:32768", "80/tcp -> [::]:32768",
                                       "443/tcp -> 0.0.0.0:32769"]
    assert port_lines({"80/tcp": ports["80/tcp"]}, "80/tcp") == ["0.0.0.0:32768", "[::]:32768"]


def _tar(add) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        add(tf)
    return buf.getvalue()


def _tar_dotdot() -> bytes:
    def add(tf):
        ti = tarfile.TarInfo("../../../../escape")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    return _tar(add)


def _tar_device() -> bytes:
    def add(tf):
        ti = tarfile.TarInfo("null")
        ti.type = tarfile.CHRTYPE
        ti.devmajor, ti.devminor = 1, 3
        tf.addfile(ti)
    return _tar(add)


def _tar_ok() -> bytes:
    def add(tf):
        ti = tarfile.TarInfo("fromtar")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"T"))
    return _tar(add)
