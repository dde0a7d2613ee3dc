"""Images in labs: a custom image built by the lab once and shared by its three hosts,
which grows the disk by that image's size once; `wait: healthy` holding `lab up` and
`lab test` until a container's check passes, and failing clearly when it does not; an
image that cannot be had, or a Dockerfile that does not parse, as one line naming the
lab file, the line and the field, with nothing made."""

import os
import socket
import subprocess

import pytest
from images.registryd import BINARY, Registry

from lab.labcli import FABRIC, LABS_DIR, lab, leftovers, unique

DOCKERFILE = """\
FROM busybox
RUN head -c 8000000 /dev/urandom > /blob && mkdir -p /www && echo hi > /www/index.html
HEALTHCHECK --interval=200ms --start-period=10s --retries=2 CMD test -e /tmp/up
CMD ["sh", "-c", "rm -f /tmp/up; sleep 1; touch /tmp/up; exec httpd -f -p 80 -h /www"]
"""

LAB = """\
name: {name}
hosts: {{h1: {{}}, h2: {{}}, h3: {{}}}}
containers:
  w1: {{host: h1, image: "labweb:1", build: img, wait: healthy}}
  w2: {{host: h2, image: "labweb:1", wait: healthy}}
  w3: {{host: h3, image: "labweb:1", wait: healthy}}
  probe: {{host: h3, command: sleep 1d}}
expect:
  - {{from: probe, to: w3, proto: http, port: 80, status: 200, within: 1}}
"""


def du(paths: list[str], exclude: list[str] = ()) -> int:
    """Bytes on the disk under paths, each hard-linked inode once (du's own rule across
    its arguments), not crossing into mounts (containers' overlay roots)."""
    out = subprocess.run(["du", "-s", "-x", "-B1", *[f"--exclude={e}" for e in exclude],
                          *paths], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines())


def fab(host: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    return subprocess.run(FABRIC + ["-H", host, *args], capture_output=True, text=True,
                          env=env, timeout=60, check=True).stdout


def test_three_hosts_share_one_copy_and_wait_until_healthy(tmp_path):
    run = unique("shared")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "lab.yaml").write_text(LAB.format(name=run))
    try:
        r = lab("up", str(tmp_path / "lab.yaml"))
        assert r.code == 0, r
        assert "image labweb:1: building on h1" in r.err
        assert "w2: waiting until healthy (starting)" in r.err and "w2: healthy" in r.err
        for h in ("h1", "h2", "h3"):
            assert "(healthy)" in fab(f"{run}.{h}", "ps", "--format", "{{.Status}}")

        hosts_dir = os.environ["FABRIC_HOSTS_DIR"]
        roots = [os.path.join(hosts_dir, f"{run}.{h}") for h in ("h1", "h2", "h3")]
        layers = fab(f"{run}.h1", "image", "inspect", "-f",
                     '{{range .RootFS.Layers}}{{.}} {{end}}', "labweb:1").split()
        names = [d.split(":", 1)[1] for d in layers]
        assert len(names) == 2                      # busybox's and the RUN step's
        one = du([os.path.join(roots[0], "layers", n + ext) for n in names
                  for ext in ("", ".tar")])
        everything = roots + [os.path.join(LABS_DIR, run)]
        growth = du(everything) - du(everything, exclude=[f"{n}*" for n in names])
        assert one > 9_000_000
        print(f"3 hosts grew the disk by {growth} bytes; one copy of the image: {one}")
        assert abs(growth - one) <= 0.10 * one, (growth, one)
        tars = [os.stat(os.path.join(root, "layers", names[1] + ".tar")) for root in roots]
        assert len({(t.st_dev, t.st_ino) for t in tars}) == 1   # one file, three names

        # restarted, w3 is starting again: `lab test` probes it only once it is healthy
        fab(f"{run}.h3", "restart", "-t", "0", "w3")
        t = lab("test", run)
        assert t.code == 0, t
        assert "w3: waiting until healthy (starting)" in t.err and "w3: healthy" in t.err
        assert "1 checks, 1 passed, 0 failed" in t.out, t.out
    finally:
        d = lab("down", run)
    assert d.code == 0, d
    assert leftovers(run) == []


def test_a_container_that_turns_unhealthy_fails_lab_up(tmp_path):
    run = unique("sick")
    p = tmp_path / "sick.yaml"
    p.write_text(f"name: {run}\nhosts: {{h1: {{}}}}\ncontainers:\n"
                 "  db:\n    command: sleep 1d\n    wait: healthy\n"
                 "    healthcheck: {test: 'echo not ready yet; exit 1', interval: 200ms, "
                 "retries: 2}\n")
    r = lab("up", str(p))
    assert r.code == 125, r
    assert r.err.splitlines()[-1] == ("Error: container db on h1 is unhealthy; its last check "
                                      "exited 1: not ready yet"), r.err
    assert leftovers(run) == []


def test_an_image_that_cannot_be_had_is_one_line_and_makes_nothing(tmp_path):
    before = sorted(os.listdir(LABS_DIR)) if os.path.isdir(LABS_DIR) else []
    run = unique("noimage")
    p = tmp_path / "noimage.yaml"
    p.write_text(f"name: {run}\nhosts: {{h1: {{}}}}\ncontainers:\n"
                 "  web: {host: h1, image: '127.0.0.1:9/lab/nope:1'}\n")
    r = lab("up", str(p))
    assert r.code == 125 and r.out == "", r
    assert r.err.splitlines()[-1].startswith(
        f"{p}:4: containers.web.image: cannot get image '127.0.0.1:9/lab/nope:1': "), r.err
    assert leftovers(run) == []
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text("FROM busybox\nRUNN true\n")
    p.write_text(f"name: {run}\nhosts: {{h1: {{}}}}\ncontainers:\n"
                 "  web: {host: h1, build: img}\n")
    r = lab("up", str(p))
    assert r.code == 125, r
    assert r.err == (f"{p}:4: containers.web.build: {tmp_path}/img/Dockerfile:2: unknown "
                     "instruction: RUNN\n"), r.err
    assert leftovers(run) == []
    assert (sorted(os.listdir(LABS_DIR)) if os.path.isdir(LABS_DIR) else []) == before


class _Machine:
    """The machine's own namespace, where `lab up` pulls (the registry helper runs its
    registry wherever its host's prefix says)."""
    prefix: list[str] = []

    @staticmethod
    def sh(cmd: str, check: bool = True):
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, check=check)
        p.code = p.returncode  # type: ignore[attr-defined]  (what Host.sh answers)
        return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(BINARY is None or not os.path.exists("/usr/bin/skopeo"),
                    reason="needs Debian's docker-registry and skopeo (./setup.sh test)")
def test_a_registry_image_is_pulled_once_with_progress(host, tmp_path):
    archive = str(tmp_path / "bb.tar")
    host.fab("save", "-o", archive, "busybox")
    registry = Registry(_Machine(), port=_free_port())
    run = unique("pulled")
    ref = f"{registry.name}/lab/bb:1"
    try:
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false",
                        f"docker-archive:{archive}", f"docker://{ref}"],
                       check=True, capture_output=True)
        p = tmp_path / "pulled.yaml"
        p.write_text(f"name: {run}\nhosts: {{h1: {{}}, h2: {{}}}}\ncontainers:\n"
                     f"  a: {{host: h1, image: '{ref}', command: sleep 1d}}\n"
                     f"  b: {{host: h2, image: '{ref}', command: sleep 1d}}\n")
        r = lab("up", str(p))
        assert r.code == 0, r
        said = r.err.splitlines()
        assert f"image {ref}: pulling" in said
        assert [ln for ln in said if ln.startswith(f"image {ref} ") and
                ln.endswith(": Pull complete")], said            # each layer's progress
        assert said.count(f"image {ref}: pulling") == 1          # once for the two hosts
        for h in ("h1", "h2"):
            assert fab(f"{run}.{h}", "ps", "--format", "{{.Image}} {{.State}}") == \
                f"{ref} running\n"
    finally:
        d = lab("down", run)
        registry.stop()
    assert d.code == 0, d
    assert leftovers(run) == []
