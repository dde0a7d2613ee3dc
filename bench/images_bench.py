"""Image benchmark: pull from a local registry, and uncached and cached builds.

Run as root after ./setup.sh:  .venv/bin/python bench/images_bench.py [-n 5] [--markdown]

On a throwaway lab host (a network namespace) it starts Debian's docker-registry on
127.0.0.1:5000 and three fabric roots: "maker" builds a five-layer image (busybox and
four COPY layers of 4 MB of random data each) and pushes it; "puller", which never made
busybox, times
  fabric pull 127.0.0.1:5000/bench/five:1        (all five layers, after an rmi)
and "builder" times
  fabric build --no-cache  of a five-step Dockerfile (FROM, COPY, RUN, ENV, RUN)
  fabric build             of the same, every step cached
and, when a Docker daemon answers, `docker pull` (from a second registry process on the
machine's own loopback, serving the same storage) and `docker build` (classic builder,
DOCKER_BUILDKIT=0) of the same context, one of each per round, so a machine whose speed
drifts weighs on all alike. Everything it made is removed at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import labhost

VENV_BIN = os.path.dirname(sys.executable)
FABRIC = os.path.join(VENV_BIN, "fabric")
IMAGE = "127.0.0.1:5000/bench/five:1"
DOCKER_PORT = 5055
# COPY, not RUN: the maker root runs no container, so it needs no default bridge (the
# builder's daemon, started first, owns the namespace's fabric0).
ROOTS = ("maker", "puller", "builder")
FIVE_LAYERS = "FROM busybox\n" + "".join(f"COPY blob{i} /\n" for i in range(4))
FIVE_STEPS = """FROM busybox
COPY data.bin /data.bin
RUN sha256sum /data.bin > /data.sum
ENV BENCH=1
RUN cp /data.bin /copy.bin
"""


def run(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}: {p.stderr.strip()}")
    return dt


def registry(prefix: list[str], storage: str, addr: str, workdir: str) -> subprocess.Popen:
    config = os.path.join(workdir, f"registry-{addr.replace(':', '-')}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
                f"http:\n  addr: {addr}\n  secret: bench\n")
    proc = subprocess.Popen(prefix + ["docker-registry", "serve", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host, port = addr.split(":")
    probe = f"import socket; socket.create_connection(('{host}', {port}), 1)"
    for _ in range(200):
        if subprocess.run(prefix + [sys.executable, "-c", probe],
                          capture_output=True).returncode == 0:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5, help="rounds")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if not shutil.which("docker-registry") or not shutil.which("skopeo"):
        raise SystemExit("needs docker-registry and skopeo: run ./setup.sh")
    ns, root, prefix = labhost.make()
    work = tempfile.mkdtemp(prefix="fabric-images-bench-")
    procs: list[subprocess.Popen] = []
    docker = docker_answers()
    try:
        storage = os.path.join(work, "storage")
        procs.append(registry(prefix, storage, "127.0.0.1:5000", work))
        env_m, env_p, env_b = ({**os.environ, "FABRIC_ROOT": os.path.join(root, name)}
                               for name in ROOTS)
        for env in (env_m, env_p, env_b):
            env.pop("FABRIC_HOST", None)
        five = os.path.join(work, "five")
        os.makedirs(five)
        with open(os.path.join(five, "Dockerfile"), "w") as f:
            f.write(FIVE_LAYERS)
        for i in range(4):
            with open(os.path.join(five, f"blob{i}"), "wb") as f:
                f.write(os.urandom(4 << 20))
        run(prefix + [FABRIC, "images"], env_b)                  # its daemon first
        run(prefix + [FABRIC, "build", "-q", "-t", IMAGE, five], env_m)
        run(prefix + [FABRIC, "push", IMAGE], env_m)
        ctx = os.path.join(work, "ctx")
        os.makedirs(ctx)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(FIVE_STEPS)
        with open(os.path.join(ctx, "data.bin"), "wb") as f:
            f.write(os.urandom(4 << 20))
        run(prefix + [FABRIC, "build", "-q", "-t", "bench/steps", ctx], env_b)  # busybox
        if docker:
            procs.append(registry([], storage, f"127.0.0.1:{DOCKER_PORT}", work))
            run(["docker", "pull", "busybox"])
        dimage = f"127.0.0.1:{DOCKER_PORT}/bench/five:1"
        denv = {**os.environ, "DOCKER_BUILDKIT": "0"}
        rows: dict[str, list[float]] = {}

        def add(name: str, dt: float) -> None:
            rows.setdefault(name, []).append(dt)
        for _ in range(args.n):
            subprocess.run(prefix + [FABRIC, "rmi", IMAGE], capture_output=True, env=env_p)
            add("fabric pull (5 layers)", run(prefix + [FABRIC, "pull", IMAGE], env_p))
            if docker:
                subprocess.run(["docker", "rmi", dimage], capture_output=True)
                add("docker pull (5 layers)", run(["docker", "pull", dimage]))
            add("fabric build, uncached (5 steps)", run(
                prefix + [FABRIC, "build", "--no-cache", "-q", "-t", "bench/steps", ctx], env_b))
            if docker:
                add("docker build, uncached (5 steps)", run(
                    ["docker", "build", "--no-cache", "-q", "-t", "bench/steps", ctx], denv))
            add("fabric build, cached (5 steps)", run(
                prefix + [FABRIC, "build", "-q", "-t", "bench/steps", ctx], env_b))
            if docker:
                add("docker build, cached (5 steps)", run(
                    ["docker", "build", "-q", "-t", "bench/steps", ctx], denv))
        if docker:
            subprocess.run(["docker", "rmi", dimage, "bench/steps"], capture_output=True)
        report(rows, args.n, args.markdown)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for r in (os.path.join(root, name) for name in ROOTS):
            _stop_daemon(r)     # builds leave no container behind: nothing else runs
        labhost.remove(ns, root)
        shutil.rmtree(work, ignore_errors=True)


def _stop_daemon(root: str) -> None:
    try:
        with open(os.path.join(root, "daemon.lock")) as f:
            os.kill(int(f.read()), 15)
    except (OSError, ValueError):
        pass


def report(rows: dict[str, list[float]], n: int, markdown: bool) -> None:
    if markdown:
        print(f"| operation ({n} rounds) | median | min |\n| --- | --- | --- |")
        for name, xs in rows.items():
            print(f"| {name} | {statistics.median(xs) * 1000:.0f} ms | "
                  f"{min(xs) * 1000:.0f} ms |")
        return
    for name, xs in rows.items():
        print(f"{name:36} median {statistics.median(xs) * 1000:7.0f} ms   "
              f"min {min(xs) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
