"""Debian's docker CLI (20.10) drives fabric through DOCKER_HOST, as a user would, with
Docker's output."""

import json
import re
import time

from dockerclients import DOCKER, in_pty


def test_run_attached_detached_rm_and_the_lifecycle(docker):
    r = docker("run", "--name", "att", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
               check=False)
    assert (r.code, r.out, r.err) == (3, "out\n", "err\n")
    t = time.monotonic()
    cid = docker("run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo up; sleep 300").out
    assert time.monotonic() - t < 5 and re.fullmatch(r"[0-9a-f]{64}\n", cid)
    assert docker("run", "--rm", "busybox", "echo", "gone").out == "gone\n"
    ps = docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").out.splitlines()
    assert sorted(line.split()[0] for line in ps) == ["att", "bg"]
    assert any(line.startswith("att Exited (3)") for line in ps)
    assert docker("ps").out.splitlines()[0].split() == \
        ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    doc = json.loads(docker("inspect", "bg").out)[0]
    assert doc["Id"] == cid.strip() and doc["State"]["Running"]
    assert docker("inspect", "-f", "{{.State.Status}}", "bg").out == "running\n"
    assert docker("logs", "bg").out == "up\n"
    assert docker("exec", "bg", "sh", "-c", "echo $((6*7))").out == "42\n"
    # create, start, stop, rm
    docker("create", "--name", "later", "busybox", "sleep", "300")
    assert docker("ps", "-a", "-f", "name=later", "--format", "{{.Status}}").out == "Created\n"
    assert docker("start", "later").out == "later\n"
    assert docker("stop", "-t", "1", "later").out == "later\n"
    assert docker("rm", "later", "att").out == "later\natt\n"
    assert docker("rm", "-f", "bg").out == "bg\n"
    assert docker("ps", "-aq").out == ""


def test_terminals_logs_follow_and_exec_it(docker):
    code, out = in_pty([DOCKER, "run", "-it", "--rm", "busybox", "sh", "-c",
                        "read line; echo got:$line; exit 4"], docker.env, b"hello\r")
    assert code == 4 and b"got:hello" in out, out
    docker("run", "-d", "--name", "box", "busybox", "sleep", "300")
    code, out = in_pty([DOCKER, "exec", "-it", "box", "sh"], docker.env,
                       b"tty; echo $((40+2)); exit 5\r")
    assert code == 5 and b"/dev/pts/" in out and b"42" in out, out
    docker("run", "-d", "--name", "talk", "busybox", "sh", "-c",
           "for i in 1 2 3; do echo line$i; sleep 0.2; done")
    # -f follows until the container ends, then returns
    assert docker("logs", "-f", "talk", timeout=20).out == "line1\nline2\nline3\n"
    assert docker("wait", "talk").out == "0\n"


def test_networks_links_ports_and_volumes(docker, host):
    assert re.fullmatch(r"[0-9a-f]{64}\n", docker("network", "create", "app").out)
    docker("run", "-d", "--name", "web", "--network", "app", "-p", "8080:80", "-v",
           "site:/www", "busybox", "sh", "-c", "echo hello > /www/index.html; "
           "httpd -f -p 80 -h /www")
    assert docker("port", "web").out == "80/tcp -> 0.0.0.0:8080\n"
    assert "0.0.0.0:8080->80/tcp" in docker("ps", "--format", "{{.Ports}}").out
    # names resolve on a user network; the published port answers in the host
    out = docker("run", "--rm", "--network", "app", "busybox", "sh", "-c",
                 "for i in 1 2 3 4 5 6 7 8 9 10; do nc web 80 </dev/null && break; "
                 "sleep 0.2; done; ping -c1 -W2 web >/dev/null && echo resolved").out
    assert out == "resolved\n"
    got = host.sh("for i in 1 2 3 4 5; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                  "timeout 3 busybox nc 127.0.0.1 8080 && break; sleep 0.3; done").out
    assert got.endswith("hello\n"), got
    docker("run", "-d", "--name", "db", "busybox", "sleep", "300")
    assert docker("run", "--rm", "--link", "db:database", "busybox", "sh", "-c",
                  "ping -c1 -W2 database >/dev/null && echo linked").out == "linked\n"
    docker("network", "connect", "app", "db")
    members = docker("network", "inspect", "app", "-f",
                     "{{range .Containers}}{{.Name}} {{end}}").out.split()
    assert sorted(members) == ["db", "web"]
    ls = docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").out.splitlines()
    assert "app bridge" in ls and "bridge bridge" in ls
    docker("network", "disconnect", "app", "db")
    # volumes
    assert docker("volume", "ls", "-q").out == "site\n"
    assert json.loads(docker("volume", "inspect", "site").out)[0]["Driver"] == "local"
    docker("volume", "create", "spare")
    assert docker("run", "--rm", "-v", "site:/data:ro", "busybox", "cat",
                  "/data/index.html").out == "hello\n"
    docker("rm", "-f", "web", "db")
    assert docker("network", "rm", "app").out == "app\n"
    assert docker("volume", "rm", "site", "spare").out == "site\nspare\n"


def test_images_ls_tag_save_load_rm(docker, tmp_path):
    docker("image", "inspect", "busybox")       # the built-in image, made on first use
    head = docker("image", "ls").out.splitlines()[0].split()
    assert head == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    docker("image", "tag", "busybox", "lab/box:1")
    rows = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out.split("\n")
    ids = {line.split()[0]: line.split()[1] for line in rows if line}
    assert ids["lab/box:1"] == ids["busybox:latest"]
    assert docker("image", "ls", "--format", "{{.Repository}}", "lab/*").out == "lab/box\n"
    tar = str(tmp_path / "box.tar")
    docker("image", "save", "-o", tar, "lab/box:1")
    assert docker("image", "rm", "lab/box:1").out == "Untagged: lab/box:1\n"
    assert docker("image", "load", "-i", tar).out == "Loaded image: lab/box:1\n"
    assert docker("run", "--rm", "lab/box:1", "echo", "loaded").out == "loaded\n"
    assert docker("image", "inspect", "-f", "{{.Metadata.LastTagTime}}", "busybox").code == 0


def test_what_fabric_does_not_do_is_refused_at_once(docker):
    t = time.monotonic()
    # (--pull never: a pull would reach out to a registry, which tests must not)
    r = docker("run", "--pull", "never", "--rm", "no/such-image", "true", check=False)
    assert r.code == 125 and "No such image: no/such-image" in r.err
    # a missing network is not taken for a missing image (no pull attempt)
    r = docker("run", "--rm", "--network", "nosuch", "busybox", "true", check=False)
    assert r.code == 125 and "network nosuch not found" in r.err and "Unable" not in r.err
    r = docker("swarm", "init", check=False)
    assert r.code == 1 and "fabric does not implement swarm mode" in r.err
    r = docker("service", "ls", check=False)
    assert r.code == 1 and "This node is not a swarm manager" in r.err
    r = docker("update", "--memory", "10m", "x", check=False)
    assert "fabric does not implement" in r.err
    assert time.monotonic() - t < 20
