"""Runtime benchmark: median wall time of container starts, against raw runc and Docker.

Run as root after ./setup.sh:  .venv/bin/python bench/runtime_bench.py [-n 20]

It makes a throwaway host (fabric.host: a network namespace, its own root and daemon,
started before timing), measures
  fabric run --rm busybox true
  fabric run -d busybox sleep 60  +  fabric rm -f ID
  fabric ps
run inside the host's namespace against its root (nsenter's own cost, about 2 ms, is
included; any build of fabric runs them the same way), and
  fabric -H HOST ps
(the registry lookup a user's `-H` pays), beside
  runc run of an equivalent bundle (busybox rootfs, same process), the floor
  docker run --rm busybox true, when a Docker daemon answers
and prints medians; --markdown prints a table for bench/RESULTS.md.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.host import hosts

VENV_BIN = os.path.dirname(sys.executable)
FABRIC = os.path.join(VENV_BIN, "fabric")


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}: {p.stderr.strip()}")
    return dt, p.stdout


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


NSENTER: list[str] = []


def bench_starts(n: int, env: dict, root: str, docker: bool) -> dict[str, float]:
    """`run --rm` of fabric, raw runc and Docker in turn, round after round, so that the
    machine's changing speed (a VM on shared cores) weighs on each alike."""
    fab = NSENTER + [FABRIC, "run", "--rm", "busybox", "true"]
    dock = ["docker", "run", "--rm", "busybox", "true"]
    timed(fab, env)  # starts the daemon, makes the image
    if docker:
        timed(dock)
    bundle = runc_bundle(root)
    state = os.path.join(root, "runc-state")
    def runc(i):
        return ["runc", "--root", state, "run", "--bundle", bundle, f"fabric-bench-{i}"]
    timed(runc(n))
    rows: dict[str, list[float]] = {"fabric run --rm busybox true": [],
                                    "runc run (raw, same process)": []}
    if docker:
        rows["docker run --rm busybox true"] = []
    for i in range(n):
        rows["fabric run --rm busybox true"].append(timed(fab, env)[0])
        rows["runc run (raw, same process)"].append(timed(runc(i))[0])
        if docker:
            rows["docker run --rm busybox true"].append(timed(dock)[0])
    shutil.rmtree(bundle, ignore_errors=True)
    return {k: median_ms(v) for k, v in rows.items()}


def bench_fabric(n: int, env: dict, name: str) -> dict[str, float]:
    fab = NSENTER + [FABRIC]
    res = {}
    pairs = []
    for _ in range(n):
        t1, out = timed(fab + ["run", "-d", "busybox", "sleep", "60"], env)
        t2, _ = timed(fab + ["rm", "-f", out.strip()], env)
        pairs.append(t1 + t2)
    res["fabric run -d + rm -f"] = median_ms(pairs)
    for _ in range(5):
        timed(fab + ["run", "-d", "busybox", "sleep", "60"], env)
    res["fabric ps (5 running)"] = median_ms([timed(fab + ["ps"], env)[0] for _ in range(n)])
    by_name = [FABRIC, "-H", name, "ps"]
    if subprocess.run(by_name, capture_output=True).returncode == 0:  # builds before hosts
        res["fabric -H HOST ps (5 running)"] = median_ms([timed(by_name)[0] for _ in range(n)])
    ids = timed(fab + ["ps", "-aq"], env)[1].split()
    if ids:
        timed(fab + ["rm", "-f", *ids], env)
    return res


def runc_bundle(root: str) -> str:
    """The floor: a bundle for runc alone running `true` from a busybox tree with its
    own netns."""
    bundle = tempfile.mkdtemp(prefix="runc-bundle-", dir=root)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy(shutil.which("busybox") or "/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for a in ("true", "sh"):
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    for d in ("proc", "sys", "dev", "etc", "tmp"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        spec = json.load(f)
    spec["process"].update(terminal=False, args=["true"])
    spec["process"].pop("rlimits", None)
    with open(cfg_path, "w") as f:
        json.dump(spec, f)
    return bundle


def docker_ready() -> bool:
    return bool(shutil.which("docker")) and \
        subprocess.run(["docker", "info"], capture_output=True).returncode == 0 and \
        subprocess.run(["docker", "image", "inspect", "busybox"],
                       capture_output=True).returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="runs per measurement (default 20)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run the benchmark as root")
    global NSENTER
    host = hosts.add(f"bench{os.getpid()}", start=False)
    NSENTER, root = host.command([]), host.root.path
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    env["FABRIC_ROOT"] = root
    docker = docker_ready()
    try:
        res = bench_starts(args.n, env, root, docker)
        res.update(bench_fabric(args.n, env, host.name))
        if docker:
            res["docker ps"] = median_ms([timed(["docker", "ps"])[0] for _ in range(args.n)])
    finally:
        host.remove()
    ratio = res["fabric run --rm busybox true"] / res["runc run (raw, same process)"]
    if args.markdown:
        print(f"| measurement (median of {args.n}) | ms |\n|---|---|")
        for k, v in res.items():
            print(f"| `{k}` | {v:.0f} |")
        print(f"| fabric run --rm / raw runc | {ratio:.2f}x |")
    else:
        for k, v in res.items():
            print(f"{k:40s} {v:7.1f} ms")
        print(f"{'fabric run --rm / raw runc':40s} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
