"""Images: pull from a local registry, and uncached and cached builds, beside Docker.

Run as root after ./setup.sh:  .venv/bin/python bench/images_bench.py [-n 7] [--markdown]
                                                                      [--no-dockerd]

Two throwaway fabric hosts (fabric.host: a namespace, a root, its daemon) and, when
`dockerd` is installed, a throwaway dockerd 20.10 (docker_bench.Dockerd: a namespace of
its own, its own data root, overlay2, fabric's busybox loaded into it). Each of the
three namespaces runs Debian's docker-registry on its own 127.0.0.1:5000 (a loopback
registry, insecure by default for both), all serving one storage directory, so both
sides pull the same image by the same name and nothing leaves the machine.

Set-up: the "builder" host builds a five-layer image FROM scratch (one layer of 400
small files, 4 MB, then four COPY layers of 4 MB of random data each: nothing shared
with busybox or with the other image) and pushes it as 127.0.0.1:5000/bench/five:1.
Then each round times, on each side (which side goes first alternates):

- pull of the five-layer image after an rmi of it: `fabric pull` on the "puller" host
  (which never held any of its layers), `docker pull`;
- `build --no-cache` of a five-step Dockerfile (FROM busybox, COPY of 4 MB, RUN, ENV,
  RUN) on the builder host, `docker build --no-cache` (DOCKER_BUILDKIT=0: the classic
  builder) of the same context;
- the same build again, every step cached.

It prints the medians, fabric/docker, and the load average seen. Everything it made
(hosts, dockerd and its containerd, registries, temporary files) is removed at the end,
also after a failure.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from docker_bench import DOCKER, Dockerd, dockerd_wanted, env_for, started  # noqa: E402

from fabric.host import hosts, registry  # noqa: E402

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
IMAGE = "127.0.0.1:5000/bench/five:1"
STEPS = "bench/steps"
FIVE_LAYERS = "FROM scratch\nCOPY base /base/\n" + "".join(
    f"COPY blob{i} /\n" for i in range(4))
FIVE_STEPS = """FROM busybox
COPY data.bin /data.bin
RUN sha256sum /data.bin > /data.sum
ENV BENCH=1
RUN cp /data.bin /copy.bin
"""
OPS = ("pull (5 layers)", "build, uncached (5 steps)", "build, cached (5 steps)")


class Registry:
    """Debian's docker-registry on 127.0.0.1:5000 inside a host's namespace."""

    def __init__(self, host: hosts.Host, storage: str, tmp: str):
        config = os.path.join(tmp, f"registry-{host.name}.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
                    "http:\n  addr: 127.0.0.1:5000\n  secret: bench\n")
        self.proc = subprocess.Popen(host.command(["docker-registry", "serve", config]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = "import socket; socket.create_connection(('127.0.0.1', 5000), 1)"
        if started(self.proc, 10, lambda: host.run([sys.executable, "-c", probe],
                                                   capture_output=True).returncode == 0):
            return
        self.stop()
        raise SystemExit(f"docker-registry did not start in {host.netns}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def timed(cmd: list[str], env: dict | None = None) -> float:
    """Wall time of a command that must succeed."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}:\n"
                         f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return dt


def output(cmd: list[str], env: dict | None = None) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout + p.stderr


def contexts(tmp: str) -> tuple[str, str]:
    five = os.path.join(tmp, "five")
    os.makedirs(os.path.join(five, "base"))
    with open(os.path.join(five, "Dockerfile"), "w") as f:
        f.write(FIVE_LAYERS)
    for i in range(400):
        with open(os.path.join(five, "base", f"f{i:03}"), "wb") as f:
            f.write(os.urandom(10 << 10))
    for i in range(4):
        with open(os.path.join(five, f"blob{i}"), "wb") as f:
            f.write(os.urandom(4 << 20))
    steps = os.path.join(tmp, "steps")
    os.makedirs(steps)
    with open(os.path.join(steps, "Dockerfile"), "w") as f:
        f.write(FIVE_STEPS)
    with open(os.path.join(steps, "data.bin"), "wb") as f:
        f.write(os.urandom(4 << 20))
    return five, steps


class Side:
    """The commands of one side: fabric's CLI on two hosts, or docker's on one dockerd."""

    def __init__(self, name: str, pull_cmd: list[str], build_cmd: list[str],
                 env: dict | None = None):
        self.name, self.pull_cmd, self.build_cmd, self.env = name, pull_cmd, build_cmd, env

    def rmi(self) -> None:
        subprocess.run(self.pull_cmd + ["rmi", IMAGE], capture_output=True, env=self.env)

    def pull(self) -> float:
        self.rmi()
        return timed(self.pull_cmd + ["pull", "-q", IMAGE], self.env)

    def build(self, ctx: str, cache: bool) -> float:
        flags = [] if cache else ["--no-cache"]
        return timed(self.build_cmd + ["build", *flags, "-q", "-t", STEPS, ctx], self.env)

    def check(self, ctx: str) -> None:
        """Once, before timing: a pull fetches all five layers, an uncached build runs
        every step, and a cached build hits the cache at every step after FROM (the
        commands' own output says so)."""
        self.rmi()
        said = output(self.pull_cmd + ["pull", IMAGE], self.env)
        if said.count("Pull complete") != 5:
            raise SystemExit(f"{self.name}: pull did not fetch five layers:\n{said}")
        said = output(self.build_cmd + ["build", "--no-cache", "-t", STEPS, ctx], self.env)
        if "Using cache" in said:
            raise SystemExit(f"{self.name}: build --no-cache used the cache:\n{said}")
        said = output(self.build_cmd + ["build", "-t", STEPS, ctx], self.env)
        if said.count("Using cache") != 4:
            raise SystemExit(f"{self.name}: the cached build missed its cache:\n{said}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=7, help="rounds")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--no-dockerd", action="store_true", help="fabric's side only")
    args = ap.parse_args()
    if not shutil.which("docker-registry") or not shutil.which("skopeo"):
        raise SystemExit("needs docker-registry and skopeo: run ./setup.sh")
    tag = uuid.uuid4().hex[:4]
    tmp = tempfile.mkdtemp(prefix="imb-", dir="/tmp")
    os.environ["FABRIC_HOSTS_DIR"] = os.path.join(tmp, "h")    # hosts of this run only
    registries: list[Registry] = []
    dockerd = None
    try:
        storage = os.path.join(tmp, "storage")
        builder = hosts.add(f"ib{tag}")
        puller = hosts.add(f"ip{tag}")
        registries += [Registry(builder, storage, tmp), Registry(puller, storage, tmp)]
        five, steps = contexts(tmp)
        fab = [FABRIC, "-H"]
        fabric = Side("fabric", fab + [puller.name], fab + [builder.name])
        timed(fabric.build_cmd + ["build", "-q", "-t", IMAGE, five])
        timed(fabric.build_cmd + ["push", "-q", IMAGE])
        sides = [fabric]
        if dockerd_wanted(args.no_dockerd):
            dockerd = Dockerd(tmp, tag, "overlay2")
            registries.append(Registry(dockerd.ns_host, storage, tmp))
            cfg = os.path.join(tmp, "cfg")
            dockerd.load_busybox(env_for(builder.socket, cfg))
            denv = {**env_for(dockerd.sock, cfg), "DOCKER_BUILDKIT": "0"}
            sides.append(Side("docker", [DOCKER], [DOCKER], denv))
        for side in sides:
            side.check(steps)
        samples: dict[tuple[str, str], list[float]] = {(op, s.name): [] for op in OPS
                                                        for s in sides}
        loads: list[float] = []
        for r in range(args.n):
            loads.append(os.getloadavg()[0])
            order = sides if r % 2 == 0 else sides[::-1]
            for s in order:
                samples[(OPS[0], s.name)].append(s.pull())
            for s in order:
                samples[(OPS[1], s.name)].append(s.build(steps, cache=False))
            for s in order:
                samples[(OPS[2], s.name)].append(s.build(steps, cache=True))
            print(f"round {r + 1}: " + "; ".join(
                f"{s.name} " + " ".join(f"{samples[(op, s.name)][-1]:.2f}s" for op in OPS)
                for s in sides), file=sys.stderr)
    finally:
        for reg in registries:
            reg.stop()
        if dockerd is not None:
            dockerd.stop()
        try:
            for rec in registry.records():
                hosts.remove(rec.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    report(samples, [s.name for s in sides], loads, args.n, args.markdown)


def report(samples: dict, sides: list[str], loads: list[float], n: int,
           markdown: bool) -> None:
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    both = "docker" in sides
    if markdown:
        print(f"| operation (median of {n}, ms) | fabric |" +
              (" docker 20.10 | fabric/docker |" if both else ""))
        print("|---|---:|" + ("---:|---:|" if both else ""))
    for op in OPS:
        f = med[(op, "fabric")]
        if markdown:
            extra = (f" {med[(op, 'docker')]:.0f} | {f / med[(op, 'docker')]:.2f} |"
                     if both else "")
            print(f"| {op} | {f:.0f} |{extra}")
        else:
            extra = (f"   docker {med[(op, 'docker')]:7.0f} ms   fabric/docker "
                     f"{f / med[(op, 'docker')]:.2f}") if both else ""
            print(f"{op:28} fabric {f:7.0f} ms{extra}")
    print(f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
