"""Runtime benchmark: median wall time of container starts, against raw runc and Docker.

Run as root after ./setup.sh:  .venv/bin/python bench/runtime_bench.py [-n 20]

It uses a throwaway host root (its own daemon, started before timing), measures
  fabric run --rm busybox true
  fabric run -d busybox sleep 60  +  fabric rm -f ID
  fabric ps
all on a throwaway lab host (a network namespace; nsenter's own cost, about 2 ms, is
included), beside
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

import labhost

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


def bench_fabric(n: int, env: dict) -> dict[str, float]:
    fab = NSENTER + [FABRIC]
    timed(fab + ["run", "--rm", "busybox", "true"], env)  # starts the daemon, makes the image
    res = {}
    res["fabric run --rm busybox true"] = median_ms(
        [timed(fab + ["run", "--rm", "busybox", "true"], env)[0] for _ in range(n)])
    pairs = []
    for _ in range(n):
        t1, out = timed(fab + ["run", "-d", "busybox", "sleep", "60"], env)
        t2, _ = timed(fab + ["rm", "-f", out.strip()], env)
        pairs.append(t1 + t2)
    res["fabric run -d + rm -f"] = median_ms(pairs)
    for _ in range(5):
        timed(fab + ["run", "-d", "busybox", "sleep", "60"], env)
    res["fabric ps (5 running)"] = median_ms([timed(fab + ["ps"], env)[0] for _ in range(n)])
    ids = timed(fab + ["ps", "-aq"], env)[1].split()
    if ids:
        timed(fab + ["rm", "-f", *ids], env)
    return res


def bench_runc(n: int, root: str) -> float:
    """The floor: runc alone running `true` from a busybox tree with its own netns."""
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
    state = os.path.join(root, "runc-state")
    samples = []
    for i in range(n + 1):
        t, _ = timed(["runc", "--root", state, "run", "--bundle", bundle, f"fabric-bench-{i}"])
        samples.append(t)
    shutil.rmtree(bundle, ignore_errors=True)
    return median_ms(samples[1:])


def bench_docker(n: int) -> dict[str, float]:
    if not shutil.which("docker"):
        return {}
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return {}
    if subprocess.run(["docker", "image", "inspect", "busybox"], capture_output=True).returncode:
        return {}
    timed(["docker", "run", "--rm", "busybox", "true"])
    return {
        "docker run --rm busybox true": median_ms(
            [timed(["docker", "run", "--rm", "busybox", "true"])[0] for _ in range(n)]),
        "docker ps": median_ms([timed(["docker", "ps"])[0] for _ in range(n)]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="runs per measurement (default 20)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run the benchmark as root")
    global NSENTER
    ns, root, NSENTER = labhost.make()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    env["FABRIC_ROOT"] = root
    try:
        res = bench_fabric(args.n, env)
        runc = bench_runc(args.n, root)
        res["runc run (raw, same process)"] = runc
        res.update(bench_docker(args.n))
    finally:
        labhost.remove(ns, root)
    ratio = res["fabric run --rm busybox true"] / runc
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
