"""`fabric lab up` at scale, beside the same containers on one dockerd (issue 7 §8).

Run as root after ./setup.sh:

    .venv/bin/python bench/labscale_bench.py [-r 3] [--sizes 4x25,8x50] [--no-dockerd]
                                             [--markdown]

For each size HOSTSxCONTAINERS it writes a lab file into a temporary directory: the
hosts on one segment, one `routing` network across them (the driver of the labs that
route containers between hosts), CONTAINERS busybox containers on each host, and one
icmp expectation from each host's last container to each other host's first (12 checks
for 4 hosts, 56 for 8). Each round times, through the CLI as a user types them:

- `fabric lab up FILE` and then `fabric lab test NAME` (`lab up` makes and starts
  everything but probes nothing; `lab test` runs the expectations): "up and tested" is
  the sum, the figure the targets are about (4x25 under 30 s, 8x50 under 120 s);
- `fabric lab down NAME`.

Beside it, when `dockerd` is installed, the same number of containers on one throwaway
dockerd (docker_bench.Dockerd: a namespace of its own, its own data and exec roots,
fabric's busybox loaded into it): a user-defined bridge network, `docker run -d` of
every container with one docker CLI at a time per lab host (the lab starts each host's
containers one after the other, the hosts in parallel), then the same probes sent by
fabric's prober from the containers' namespaces; then `docker rm -f` of them all.

Each size runs ROUNDS times; the medians are printed with the load average seen. Hosts,
labs and the dockerd live under a temporary FABRIC_HOSTS_DIR / FABRIC_LABS_DIR and are
removed at the end, also after a failure.
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
import uuid
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
TMP = tempfile.mkdtemp(prefix="lsb-", dir="/tmp")
os.environ["FABRIC_HOSTS_DIR"] = os.path.join(TMP, "h")
os.environ["FABRIC_LABS_DIR"] = os.path.join(TMP, "l")

from docker_bench import DOCKER, Dockerd, docker, dockerd_wanted, env_for  # noqa: E402

from fabric.host import hosts, registry  # noqa: E402

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
SUBNET = "10.40.0.0/16"


def lab_file(path: str, name: str, n_hosts: int, per_host: int) -> int:
    """Write the lab; the number of expectations."""
    lines = [f"name: {name}", "segments:", "  lan: {subnet: 192.168.18.0/24}", "hosts:"]
    lines += [f"  h{i}: {{nics: [{{segment: lan, address: 192.168.18.{10 + i}/24}}]}}"
              for i in range(1, n_hosts + 1)]
    lines += ["networks:", f"  cnet: {{driver: routing, subnet: {SUBNET}}}", "containers:"]
    lines += [f"  {ctr(i, j)}: {{host: h{i}, networks: [cnet], command: sleep 1d}}"
              for i in range(1, n_hosts + 1) for j in range(1, per_host + 1)]
    pairs = probe_pairs(n_hosts, per_host)
    lines += ["expect:"] + [f"  - {{from: {a}, to: {b}}}" for a, b in pairs]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(pairs)


def ctr(host: int, n: int) -> str:
    return f"h{host}c{n}"


def probe_pairs(n_hosts: int, per_host: int) -> list[tuple[str, str]]:
    """Each host's last container to each other host's first."""
    return [(ctr(a, per_host), ctr(b, 1)) for a in range(1, n_hosts + 1)
            for b in range(1, n_hosts + 1) if a != b]


def fab(*args: str) -> tuple[float, str]:
    """Wall time and standard output of one CLI command, which must succeed."""
    t = time.perf_counter()
    p = subprocess.run([FABRIC, *args], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"fabric {' '.join(args)} failed ({p.returncode}):\n"
                           f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return dt, p.stdout


def lab_round(file: str, name: str, n_containers: int, n_checks: int) -> dict[str, float]:
    up, said = fab("lab", "up", file)
    try:
        if f" {n_containers} container(s) in " not in said:
            raise RuntimeError(f"lab up did not make {n_containers} containers: {said}")
        test, out = fab("lab", "test", name, "--json")
        doc = json.loads(out)
        if doc["total"] != n_checks or not doc["passed"]:
            raise RuntimeError(f"lab test: {doc['failed']} of {doc['total']} checks failed "
                               f"({n_checks} expected)")
    finally:
        down, _ = fab("lab", "down", name)
    return {"up": up, "test": test, "up+test": up + test, "down": down}


def docker_round(env: dict, n_hosts: int, per_host: int) -> dict[str, float]:
    """Every container started on one dockerd, then probed as the lab's are."""
    from fabric.lab.expect import Check, run
    from fabric.probe import Probe

    names = [ctr(i, j) for i in range(1, n_hosts + 1) for j in range(1, per_host + 1)]
    t0 = time.perf_counter()
    try:
        def host_group(i: int) -> None:
            for j in range(1, per_host + 1):
                docker(env, "run", "-d", "--name", ctr(i, j), "--network", "lsb", "busybox",
                       "sleep", "1d")

        with ThreadPoolExecutor(max_workers=n_hosts) as ex:
            list(ex.map(host_group, range(1, n_hosts + 1)))
        started = time.perf_counter() - t0
        fmt = "{{.Name}} {{.State.Pid}} {{.NetworkSettings.Networks.lsb.IPAddress}}"
        out = subprocess.run([DOCKER, "inspect", "-f", fmt, *names], env=env, check=True,
                             capture_output=True, text=True).stdout
        seen = {n.lstrip("/"): (pid, ip) for n, pid, ip in (ln.split() for ln in
                                                           out.splitlines())}
        checks = [Check(src=a, dst=b, src_netns=f"/proc/{seen[a][0]}/ns/net",
                        probe=Probe("icmp", seen[b][1]), expect="ok")
                  for a, b in probe_pairs(n_hosts, per_host)]
        results = run(checks)
        tested = time.perf_counter() - t0
        failed = [r.check.label() for r in results if not r.passed]
        if failed:
            raise RuntimeError(f"dockerd: {len(failed)} probe(s) failed: {failed[:3]}")
    finally:
        t1 = time.perf_counter()
        subprocess.run([DOCKER, "rm", "-f", *names], env=env, capture_output=True)
        down = time.perf_counter() - t1
    return {"up": started, "test": tested - started, "up+test": tested, "down": down}


def start_dockerd(tag: str) -> tuple[Dockerd, dict]:
    """A throwaway dockerd with fabric's busybox in it and a network like the lab's."""
    d = Dockerd(TMP, tag, "overlay2")
    env = env_for(d.sock, os.path.join(TMP, "cfg"))
    try:
        src = hosts.add(f"ls{tag}")     # a fabric host only to save busybox from
        try:
            d.load_busybox(env_for(src.socket, os.path.join(TMP, "cfg")))
        finally:
            src.remove()
        docker(env, "network", "create", "--subnet", SUBNET, "lsb")
    except BaseException:
        d.stop()
        raise
    return d, env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="4x25,8x50", help="HOSTSxCONTAINERS,...")
    ap.add_argument("--no-dockerd", action="store_true", help="fabric's side only")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    tag = uuid.uuid4().hex[:4]
    results: dict[tuple[int, int], dict[str, list[dict]]] = {}
    loads: list[float] = []
    dockerd = None
    try:
        denv = None
        if dockerd_wanted(args.no_dockerd):
            try:
                dockerd, denv = start_dockerd(tag)
            except (SystemExit, subprocess.CalledProcessError, OSError) as e:
                print(f"dockerd column skipped: it could not run: {e}", file=sys.stderr)
        for n_hosts, per_host in sizes:
            name = f"s{tag}x{n_hosts}"
            file = os.path.join(TMP, f"{name}.yaml")
            n_checks = lab_file(file, name, n_hosts, per_host)
            by_side: dict[str, list[dict]] = {"fabric": [], "dockerd": []}
            results[(n_hosts, per_host)] = by_side
            for r in range(args.rounds):
                loads.append(os.getloadavg()[0])
                by_side["fabric"].append(lab_round(file, name, n_hosts * per_host, n_checks))
                if denv is not None:
                    by_side["dockerd"].append(docker_round(denv, n_hosts, per_host))
                print(f"{n_hosts}x{per_host} ({n_checks} checks) round {r + 1}: " +
                      "; ".join(f"{side} " + " ".join(f"{k} {v:.1f}s" for k, v in
                                                      rounds[-1].items())
                                for side, rounds in by_side.items() if rounds),
                      file=sys.stderr)
    finally:
        if dockerd is not None:
            dockerd.stop()
        leftovers()
        shutil.rmtree(TMP, ignore_errors=True)
    report(results, loads, args.rounds, args.markdown)


def leftovers() -> None:
    """Whatever a failed round left: its labs (their segments and hosts), then hosts."""
    labs_dir = os.environ["FABRIC_LABS_DIR"]
    for lab in os.listdir(labs_dir) if os.path.isdir(labs_dir) else []:
        subprocess.run([FABRIC, "lab", "down", lab], capture_output=True)
    for r in registry.records():
        hosts.remove(r.name)


TARGETS = {(4, 25): 30.0, (8, 50): 120.0}


def report(results: dict, loads: list[float], rounds: int, markdown: bool) -> None:
    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    load = f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}" if loads else ""
    if markdown:
        print(f"| lab (median of {rounds}, s) | `lab up` | `lab test` | up and tested | "
              "target | `lab down` | dockerd: run -d all | dockerd: + probes | "
              "dockerd: rm -f all |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (n_hosts, per_host), by_side in results.items():
        f, d = by_side["fabric"], by_side["dockerd"]
        if not f:
            continue
        target = TARGETS.get((n_hosts, per_host))
        checks = n_hosts * (n_hosts - 1)
        if markdown:
            dk = (f" {med(d, 'up'):.1f} | {med(d, 'up+test'):.1f} | {med(d, 'down'):.1f} |"
                  if d else " - | - | - |")
            print(f"| {n_hosts} x {per_host} ({checks} checks) | {med(f, 'up'):.1f} | "
                  f"{med(f, 'test'):.1f} | {med(f, 'up+test'):.1f} | "
                  f"{f'< {target:.0f}' if target else ''} | {med(f, 'down'):.1f} |{dk}")
        else:
            print(f"{n_hosts}x{per_host} ({checks} checks): fabric up "
                  f"{med(f, 'up'):.1f} s, test {med(f, 'test'):.1f} s, up and tested "
                  f"{med(f, 'up+test'):.1f} s (target {target or '-'}), down "
                  f"{med(f, 'down'):.1f} s")
            if d:
                print(f"{'':{len(str(n_hosts)) + len(str(per_host)) + 1}}  dockerd: run -d "
                      f"{med(d, 'up'):.1f} s, probes {med(d, 'test'):.1f} s, total "
                      f"{med(d, 'up+test'):.1f} s, rm -f {med(d, 'down'):.1f} s")
    print(load)


if __name__ == "__main__":
    main()
