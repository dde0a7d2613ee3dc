"""Time for `fabric lab trace` across three hosts (issue 11: target under 2 s).

The three-host routing lab of the trace tests (tests/trace/routing-3.yaml) comes up
once; then, R rounds of each case, the wall time of the whole command as a user runs
it (`fabric lab trace NAME a c --json`: the CLI starting, every host armed, the probe,
each host's passes collected and disarmed, the story told):

- answered across two hosts (h1 routes straight to h3);
- blocked and never answered: tcp to a port of c that a user's rule on h3 drops, so
  the probe waits out its timeout (the default 0.5 s) before the hosts are asked;
- answered across three hosts (h1's route to c's slice removed, a plain one via h2);
- dying on the way (h2's route removed too: "no route ... on host h2"); the ICMP
  error comes back at once, so nothing waits for the probe's timeout (rounds a
  second apart: the kernel rate-limits ICMP errors to one a second per destination).

    .venv/bin/python bench/trace_bench.py [-r ROUNDS]      # a table for RESULTS.md
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAB = os.path.join(ROOT, "tests", "trace", "routing-3.yaml")
os.environ.setdefault("FABRIC_HOSTS_DIR", tempfile.mkdtemp(prefix="fhb-", dir="/tmp"))
os.environ.setdefault("FABRIC_LABS_DIR", tempfile.mkdtemp(prefix="flb-", dir="/tmp"))
FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
# A host sends one ICMP error a second to each destination (net.ipv4.icmp_ratelimit):
# rounds closer than that would find no error coming back and wait out the probe.
ICMP_RATELIMIT = 1.05


def fab(*args: str) -> str:
    p = subprocess.run([FABRIC, *args], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f"fabric {' '.join(args)}: {p.stdout}{p.stderr}")
    return p.stdout


def timed(name: str, *args: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    out = fab("lab", "trace", name, *args, "--json")
    return time.monotonic() - t0, json.loads(out)


def case(name: str, rounds: int, args: tuple[str, ...], expect: str, pause: float = 0.0
         ) -> list[float]:
    times = []
    for _ in range(rounds):
        time.sleep(pause)
        took, doc = timed(name, *args)
        if not doc["verdict"].startswith(expect):
            raise SystemExit(f"trace {args}: {doc['verdict']!r}, expected {expect!r}")
        times.append(took)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", "--rounds", type=int, default=10)
    rounds = ap.parse_args().rounds
    name = f"trace-bench-{uuid.uuid4().hex[:4]}"
    fab("lab", "up", LAB, "--name", name)
    rows = []
    try:
        fab("lab", "trace", name, "a", "c")       # every daemon warm
        rows.append(("answered, 2 hosts on the path", case(name, rounds, ("a", "c"), "ok")))
        fab("-H", f"{name}.h3", "firewall", "add", "-p", "tcp", "--dport", "81", "-j", "DROP")
        rows.append(("dropped on h3, no answer (waits 0.5 s)",
                     case(name, rounds, ("a", "c", "--proto", "tcp", "--port", "81"),
                          "dropped by user rule 1")))
        fab("lab", "exec", name, "h1", "--", "sh", "-c", "ip route add 10.40.0.0/16 via "
            "192.168.18.12 && ip route del 10.40.9.0/24 proto 251")
        rows.append(("answered, 3 hosts on the path", case(name, rounds, ("a", "c"), "ok")))
        fab("lab", "exec", name, "h2", "--", "ip", "route", "del", "10.40.9.0/24",
            "proto", "251")
        rows.append(("no route on h2 (ICMP error back)",
                     case(name, rounds, ("a", "c"), "no route to 10.40.9.0/24 on host h2",
                          pause=ICMP_RATELIMIT)))
    finally:
        fab("lab", "down", name)
    print("| case | median | worst |")
    print("|---|---|---|")
    for label, times in rows:
        print(f"| {label} | {statistics.median(times) * 1000:.0f} ms | "
              f"{max(times) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
