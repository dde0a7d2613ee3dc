"""`fabric lab compare` on the two-host compare lab with every driver (issue 11), run as
a user runs it: the CLI, `--json`, R rounds. Each round brings labs/compare-2.yaml up
once per driver (bridge with its uplink, routing, mesh, ovs), runs its expectations,
measures a -> b (iperf3 for T seconds, busybox's adaptive ping, containers started on
h2 until a answers) and takes it down. Prints, per driver, the medians over the rounds
of the wall time of each stage and of the measured numbers, and the command's own wall
time.

Labs and hosts go in throwaway directories (FABRIC_LABS_DIR, FABRIC_HOSTS_DIR), removed
at the end when empty, as compare leaves nothing behind.

    .venv/bin/python bench/compare_bench.py [-r ROUNDS] [-t SECONDS] [--drivers LIST] [--markdown]
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(os.path.dirname(HERE), "labs", "compare-2.yaml")
FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
STAGES = ("up", "test", "measure", "down", "total")


def one_round(drivers: str, seconds: int, pings: int, starts: int) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    t0 = time.monotonic()
    p = subprocess.run([FABRIC, "lab", "compare", LAB, "--network", "cnet", "--drivers",
                        drivers, "--json", "-t", str(seconds), "--pings", str(pings),
                        "--starts", str(starts)], capture_output=True, text=True, env=env,
                       timeout=900)
    took = time.monotonic() - t0
    if p.returncode not in (0, 1) or not p.stdout:
        raise SystemExit(f"lab compare failed (exit {p.returncode}): {p.stderr.strip()}")
    return took, json.loads(p.stdout)


def med(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summary(docs: list[dict]) -> list[dict]:
    by: dict[str, list[dict]] = {}
    for doc in docs:
        for row in doc["drivers"]:
            by.setdefault(row["driver"], []).append(row)
    out = []
    for driver, rows in by.items():
        out.append({
            "driver": driver, "carried_by": rows[0]["carried_by"], "mtu": rows[0]["mtu"],
            "passed": sum(r["error"] is None and not r["expectations"]["failed"]
                          for r in rows), "rounds": len(rows),
            "expectations": rows[0]["expectations"]["total"],
            **{s: med([r["seconds"].get(s) for r in rows]) for s in STAGES},
            "gbps": med([r["throughput_bps"] and r["throughput_bps"] / 1e9 for r in rows]),
            "rtt_ms": med([r["rtt_ms"] for r in rows]),
            "reach_s": med([r["reach_s"] for r in rows]),
            "errors": [r["error"] for r in rows if r["error"]],
        })
    return out


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("-t", type=int, default=3, help="seconds per iperf3 run")
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--drivers", default="bridge,routing,mesh,ovs")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    made = {}
    for var, prefix in (("FABRIC_LABS_DIR", "fcmpl-"), ("FABRIC_HOSTS_DIR", "fcmph-")):
        if var not in os.environ:
            made[var] = os.environ[var] = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    walls, docs = [], []
    for _ in range(args.rounds):
        took, doc = one_round(args.drivers, args.t, args.pings, args.starts)
        walls.append(took)
        docs.append(doc)
    rows = summary(docs)
    if args.markdown:
        print("| driver | carried by | MTU | expectations | up s | test s | measure s | down s "
              "| wall s | Gbit/s | RTT ms | reach s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['driver']} | {r['carried_by']} | {r['mtu']} | "
                  f"{r['expectations']} passed in {r['passed']}/{r['rounds']} rounds | "
                  + " | ".join(fmt(r[s], ".2f") for s in STAGES)
                  + f" | {fmt(r['gbps'], '.2f')} | {fmt(r['rtt_ms'], '.3f')} | "
                  f"{fmt(r['reach_s'], '.3f')} |")
        print(f"\nWhole command (`lab compare ... --drivers {args.drivers}`), median of "
              f"{args.rounds}: {statistics.median(walls):.1f} s (runs: "
              f"{', '.join(f'{w:.1f}' for w in walls)})")
    else:
        for r in rows:
            print(f"{r['driver']:8} {r['carried_by']:30} wall {fmt(r['total'], '.1f')} s "
                  f"(up {fmt(r['up'], '.1f')}, test {fmt(r['test'], '.1f')}, measure "
                  f"{fmt(r['measure'], '.1f')}, down {fmt(r['down'], '.1f')})  "
                  f"{fmt(r['gbps'], '.2f')} Gbit/s  RTT {fmt(r['rtt_ms'], '.3f')} ms  "
                  f"reach {fmt(r['reach_s'], '.3f')} s  passed {r['passed']}/{r['rounds']}")
        print(f"whole command: median {statistics.median(walls):.1f} s")
    for r in rows:
        for e in r["errors"]:
            print(f"{r['driver']}: {e}")
    for d in made.values():
        with contextlib.suppress(OSError):    # empty unless something was left behind
            os.rmdir(d)


if __name__ == "__main__":
    main()
