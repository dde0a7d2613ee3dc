"""The prober and the expectation runner at lab scale, in throwaway namespaces only:
one probe's latency per protocol, and the wall time of a lab's worth of checks
(N sources on one segment, each probing one target with icmp, tcp, http, a closed
port and a dropped one) at a few degrees of parallelism.

Run as root after ./setup.sh:  .venv/bin/python bench/probe_bench.py [-n 25] [--markdown]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from probe.topo import Topo, nft  # noqa: E402

from fabric.lab import expect  # noqa: E402
from fabric.lab.expect import Check  # noqa: E402
from fabric.probe import Probe, send  # noqa: E402

TARGET = "10.124.0.1"
DROP = "table inet fabric_bench {\n chain input {\n type filter hook input priority 0;\n" \
       " tcp dport 82 drop\n }\n}\n"


def build(n: int) -> tuple[Topo, str, list[str]]:
    topo = Topo("fb")
    seg = topo.ns("seg")
    topo.bridge(seg)
    target = topo.ns("t")
    topo.port(seg, target, "eth0", "pt", f"{TARGET}/16")
    sources = []
    for i in range(n):
        ns = topo.ns(f"s{i}")
        topo.port(seg, ns, "eth0", f"p{i}", f"10.124.1.{i + 1}/16")
        sources.append(ns)
    topo.servers.tcp(target, 80)
    nft(target, DROP)
    return topo, target, sources


def latency(src: str, probe: Probe, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = send(src, probe)
        times.append(time.perf_counter() - t)
        assert out.result == "ok", out
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=25, help="source namespaces")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    topo, target, sources = build(args.n)
    rows = []
    try:
        src = sources[0]
        seg = topo.made[0]
        for label, probe in (("icmp", Probe("icmp", TARGET)), ("tcp", Probe("tcp", TARGET, 80)),
                             ("http", Probe("http", TARGET, 80)),
                             ("icmp via 2 taps", Probe("icmp", TARGET, via=(
                                 (seg, "pt"), (seg, "p0"))))):
            rows.append((f"one {label} probe (median of {args.rounds})",
                         f"{latency(src, probe, args.rounds):.2f} ms"))
        checks = []
        for i, ns in enumerate(sources):
            for proto, port, want in (("icmp", None, "ok"), ("tcp", 80, "ok"),
                                      ("http", 80, "ok"), ("tcp", 81, "refused"),
                                      ("tcp", 82, "blocked")):
                checks.append(Check(f"s{i}", "t", ns, Probe(proto, TARGET, port, timeout=1.0),
                                    want))
        for parallel in (8, 32):
            t = time.perf_counter()
            results = expect.run(checks, parallel=parallel)
            wall = time.perf_counter() - t
            assert all(r.passed for r in results), [r for r in results if not r.passed][:3]
            rows.append((f"{len(checks)} checks ({args.n} blocked), parallel={parallel}",
                         f"{wall:.2f} s"))
    finally:
        topo.close()
    if args.markdown:
        print("| measurement | value |\n|---|---|")
        for k, v in rows:
            print(f"| {k} | {v} |")
    else:
        for k, v in rows:
            print(f"{k:48s} {v}")


if __name__ == "__main__":
    main()
