"""`fabric build`: Dockerfiles that need no network, multi-stage included, every
instruction, the cache (hits and misses), and the errors a user meets."""

import gzip
import hashlib
import io
import json
import os
import tarfile
import textwrap

import pytest

MULTI = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS builder
ARG GREETING=hello
ENV A=1 \\
    B="two words"
WORKDIR /src
COPY hello.txt ./
RUN echo "$GREETING $A $B" > out && cat out
FROM busybox
COPY --from=builder /src /copied
CMD ["cat", "/copied/out"]
"""


def _context(tmp_path, files: dict[str, str | bytes]) -> str:
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(tmp_path)


def _config(host, ref: str) -> dict:
    return json.loads(host.fab("image", "inspect", ref).out)[0]


def _steps(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("Step ")]


def test_multistage_build_and_cache(host, tmp_path):
    ctx = _context(tmp_path, {"Dockerfile": MULTI, "hello.txt": "hi\n"})
    r = host.fab("build", "-t", "demo:1", ctx)
    assert _steps(r.out)[0] == "Step 1/9 : FROM ${BASE} AS builder"
    assert "Step 7/9 : FROM busybox" in r.out
    assert " ---> Running in " in r.out and "Removing intermediate container" in r.out
    assert "hello 1 two words\n" in r.out          # the RUN's own output, in the build's
    assert "Using cache" not in r.out
    image_id = _config(host, "demo:1")["Id"]
    assert f"Successfully built {image_id[7:19]}" in r.out
    assert r.out.rstrip().endswith("Successfully tagged demo:1")
    assert host.fab("run", "--rm", "--network", "none", "demo:1").out == "hello 1 two words\n"

    hist = host.fab("history", "--no-trunc", "--format", "{{.CreatedBy}}", "demo:1").out
    lines = hist.splitlines()
    assert lines[0] == '/bin/sh -c #(nop)  CMD ["cat" "/copied/out"]'
    assert lines[1].startswith("/bin/sh -c #(nop) COPY dir:") and \
        lines[1].endswith(" in /copied ")

    r = host.fab("build", "-t", "demo:1", ctx)
    assert r.out.count(" ---> Using cache") == 7, r.out
    assert "Running in" not in r.out
    assert _config(host, "demo:1")["Id"] == image_id          # same steps, same image

    # a changed file: its COPY and everything after miss; the steps before still hit
    (tmp_path / "hello.txt").write_text("changed\n")
    r = host.fab("build", "-t", "demo:2", ctx)
    assert r.out.count(" ---> Using cache") == 3, r.out
    assert "Running in" in r.out

    # a build argument changes what the RUN sees, and so its cache key
    r = host.fab("build", "--build-arg", "GREETING=salut", "-t", "demo:3", ctx)
    assert "salut 1 two words" in r.out
    r = host.fab("build", "--target", "builder", "--build-arg", "GREETING=salut", "-t",
                 "demo:salut", ctx)
    assert "Running in" not in r.out                          # all of it cached
    hist = host.fab("history", "--no-trunc", "--format", "{{.CreatedBy}}", "demo:salut").out
    # the build arguments a RUN saw lead its history line, as Docker writes it
    assert '|1 GREETING=salut /bin/sh -c echo "$GREETING $A $B" > out && cat out' in hist
    r = host.fab("build", "--no-cache", "-t", "demo:4", ctx)
    assert "Using cache" not in r.out

    # --target stops at the named stage
    r = host.fab("build", "--target", "builder", "-t", "demo:builder", ctx)
    assert len(_steps(r.out)) == 6
    assert host.fab("run", "--rm", "--network", "none", "demo:builder", "cat",
                    "/src/out").out == "hello 1 two words\n"
    assert _config(host, "demo:builder")["Config"]["WorkingDir"] == "/src"

    # intermediate images are hidden from `images`, and go with their last child
    assert "<none>" not in host.fab("images", "demo").out
    host.fab("rmi", "demo:1", "demo:2", "demo:3", "demo:4", "demo:builder", "demo:salut")


INSTRUCTIONS = """\
# escape=`
FROM busybox
MAINTAINER someone <someone@example.org>
ARG VERSION
ENV APP_HOME=/opt/app `
    MODE=${VERSION:-dev}
LABEL org.example.version="${MODE}" description="a test image"
EXPOSE 80 53/udp
VOLUME ["/data"]
WORKDIR $APP_HOME
COPY --chown=www-data:www-data . ./
ADD files.tar.gz /unpacked/
RUN ["sh", "-c", "ls -n $APP_HOME/app.txt | cut -c1-30 > /owner"]
SHELL ["/bin/sh", "-ec"]
RUN test "$MODE" = dev && echo shell-ok > /shell
USER www-data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo triggered > /tmp/trigger
ENTRYPOINT ["sh", "-c"]
CMD ["cat /owner"]
"""


def _tar_gz(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(text.encode())
            tf.addfile(ti, io.BytesIO(text.encode()))
    return gzip.compress(buf.getvalue())


def test_every_instruction(host, tmp_path):
    ctx = _context(tmp_path, {
        "Dockerfile": INSTRUCTIONS, "app.txt": "app\n", "secret.key": "no\n",
        "logs/a.log": "x\n", "logs/keep.log": "keep\n",
        ".dockerignore": "# comments are ignored\n*.key\nlogs\n!logs/keep.log\n",
        "files.tar.gz": _tar_gz({"inner/one.txt": "one\n"})})
    host.fab("build", "-t", "every:1", ctx)
    cfg = _config(host, "every:1")
    c = cfg["Config"]
    assert cfg["Author"] == "someone <someone@example.org>"
    assert "APP_HOME=/opt/app" in c["Env"] and "MODE=dev" in c["Env"]
    assert c["Labels"] == {"org.example.version": "dev", "description": "a test image"}
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}}
    assert c["WorkingDir"] == "/opt/app"
    assert c["User"] == "www-data"
    assert c["StopSignal"] == "SIGTERM"
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL",
                                         "wget -q -O- http://localhost/ || exit 1"],
                                "Interval": 5_000_000_000, "Timeout": 3_000_000_000,
                                "Retries": 2}
    assert c["OnBuild"] == ["RUN echo triggered > /tmp/trigger"]
    assert c["Entrypoint"] == ["sh", "-c"] and c["Cmd"] == ["cat /owner"]

    run = ["run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", "every:1",
           "-c"]
    # --chown, .dockerignore (with a `!` exception), ADD's archive extraction, SHELL
    assert host.fab(*run, "cat /owner").out.split()[2:4] == ["33", "33"]
    listing = host.fab(*run, "find /opt/app /unpacked | sort").out.split()
    assert "/opt/app/app.txt" in listing and "/opt/app/secret.key" not in listing
    assert "/opt/app/logs/keep.log" in listing and "/opt/app/logs/a.log" not in listing
    assert "/unpacked/inner/one.txt" in listing and "/unpacked/files.tar.gz" not in listing
    assert host.fab(*run, "cat /shell").out == "shell-ok\n"

    hist = host.fab("history", "--no-trunc", "--format", "{{.CreatedBy}}", "every:1").out
    # after SHELL, history lines name the new shell, as Docker's do
    assert '/bin/sh -ec #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q -O- http://localhost/ ' \
        '|| exit 1"] "5s" "3s" "0s" \'\\x02\'}' in hist
    assert "/bin/sh -c #(nop) WORKDIR /opt/app" in hist
    assert '/bin/sh -ec #(nop)  ENTRYPOINT ["sh" "-c"]' in hist
    assert "|1 VERSION= " not in hist       # an unset ARG is not passed to RUN

    # ONBUILD triggers run in the image built FROM this one
    child = _context(tmp_path / "child", {"Dockerfile": "FROM every:1\nUSER 0\n"})
    r = host.fab("build", "-t", "every:child", child)
    assert "# Executing 1 build trigger" in r.out
    assert host.fab(*run[:-4], "--entrypoint", "cat", "every:child", "/tmp/trigger").out == \
        "triggered\n"
    assert _config(host, "every:child")["Config"]["OnBuild"] is None


@pytest.mark.parametrize("dockerfile,needle", [
    ("FROM busybox\nRUN true\nCOPPY a b\n", "Dockerfile:3: unknown instruction: COPPY"),
    ("RUN true\n", "Dockerfile:1: the first instruction must be FROM"),
    ("FROM busybox\nCOPY ../outside /x\n",
     "Dockerfile:2: COPY failed: forbidden path outside the build context: ../outside ()"),
    ("FROM busybox\nCOPY missing.txt /x\n",
     "Dockerfile:2: COPY failed: file not found in build context or excluded by "
     ".dockerignore: stat missing.txt: file does not exist"),
    ("FROM busybox\nADD http://example.org/x /x\n", "ADD from a URL (http://example.org/x)"),
    ("FROM busybox\nRUN --mount=type=cache,target=/x true\n", "Dockerfile:2: Unknown flag: "
     "mount"),
])
def test_build_errors_name_file_and_line(host, tmp_path, dockerfile, needle):
    ctx = _context(tmp_path / "ctx", {"Dockerfile": dockerfile})
    r = host.fab("build", "-t", "bad:1", ctx, check=False)
    assert r.code == 125, r
    assert needle in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert host.fab("images", "-q", "bad").out == ""


def test_failing_run_stops_the_build(host, tmp_path):
    ctx = _context(tmp_path, {"Dockerfile": textwrap.dedent("""\
        FROM busybox
        RUN echo before
        RUN echo to-stdout; echo to-stderr >&2; exit 3
        RUN echo never
        """)})
    r = host.fab("build", "-t", "failing:1", ctx, check=False)
    assert r.code == 3, r
    assert "to-stdout" in r.out and "to-stderr" in r.out
    assert "never" not in r.out
    assert r.err.strip() == ("The command '/bin/sh -c echo to-stdout; echo to-stderr >&2; "
                             "exit 3' returned a non-zero code: 3")
    assert host.fab("images", "-q", "failing").out == ""
    assert host.fab("ps", "-aq").out == ""             # no container left behind
    assert os.listdir(os.path.join(host.root, "tmp")) == []


def test_built_image_saves_and_loads(host, tmp_path):
    """`fabric save` of a built image: every diff_id matches its layer tar, the history
    counts one non-empty entry per layer (what `docker load` checks), and a load into
    an empty store gives the same image id."""
    ctx = _context(tmp_path / "ctx", {"Dockerfile": MULTI, "hello.txt": "hi\n"})
    host.fab("build", "-t", "saved:1", ctx)
    image_id = _config(host, "saved:1")["Id"]
    archive = str(tmp_path / "saved.tar")
    host.fab("save", "-o", archive, "saved:1")
    with tarfile.open(archive) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        cfg = json.load(tf.extractfile(manifest[0]["Config"]))
        for path, diff in zip(manifest[0]["Layers"], cfg["rootfs"]["diff_ids"]):
            assert "sha256:" + hashlib.sha256(tf.extractfile(path).read()).hexdigest() == diff
    non_empty = [h for h in cfg["history"] if not h.get("empty_layer")]
    assert len(non_empty) == len(cfg["rootfs"]["diff_ids"])
    assert manifest[0]["RepoTags"] == ["saved:1"]
    host.fab("rmi", "saved:1")
    assert host.fab("load", "-i", archive).out.strip() == "Loaded image: saved:1"
    assert _config(host, "saved:1")["Id"] == image_id


def test_engine_api_build_with_chunked_context(host, tmp_path):
    """POST /build as the docker CLI sends it: the context in chunked encoding, tags and
    build args in the query; the answer Docker's JSON stream with the image's id."""
    import socket
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tf:
        data = b"FROM busybox\nARG WHO\nRUN echo hello $WHO\n"
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    body = ctx.getvalue()
    host.fab("images")                                  # the daemon, up
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(host.root, "fabric.sock"))
    s.sendall(b"POST /v1.41/build?t=api%3A1&buildargs=%7B%22WHO%22%3A%22api%22%7D HTTP/1.1\r\n"
              b"Host: docker\r\nContent-Type: application/x-tar\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 4000):
        part = body[i:i + 4000]
        s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    head, _, stream = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    if b"transfer-encoding: chunked" in head.lower():     # streams are chunked, as Go's
        stream = _dechunk(stream)
    msgs = [json.loads(line) for line in stream.splitlines() if line.strip()]
    text = "".join(m.get("stream", "") for m in msgs)
    assert "hello api\n" in text and "Successfully tagged api:1" in text
    ids = [m["aux"]["ID"] for m in msgs if "aux" in m]
    assert ids == [_config(host, "api:1")["Id"]]


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, data = out + rest[:n], rest[n + 2:]
    return out
