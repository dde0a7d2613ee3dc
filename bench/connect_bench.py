"""Time to connect a running container to a network (and disconnect it), through the CLI
and through the API alone, on a throwaway lab host.

Run as root after ./setup.sh:  .venv/bin/python bench/connect_bench.py [-n 20] [--markdown]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.host import hosts

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    host = hosts.add(f"bench{os.getpid()}", start=False)
    pre = host.command([])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    env["FABRIC_ROOT"] = host.root.path

    def fab(*a: str) -> tuple[float, str]:
        t = time.perf_counter()
        p = subprocess.run(pre + [FABRIC, *a], capture_output=True, text=True, env=env)
        if p.returncode:
            raise SystemExit(f"fabric {' '.join(a)}: {p.stderr.strip()}")
        return time.perf_counter() - t, p.stdout

    try:
        fab("network", "create", "bench-a")
        fab("network", "create", "bench-b")
        fab("run", "-d", "--name", "c", "--network", "bench-a", "busybox", "sleep", "600")
        conn, disc = [], []
        for _ in range(args.n):
            conn.append(fab("network", "connect", "bench-b", "c")[0])
            disc.append(fab("network", "disconnect", "bench-b", "c")[0])
        api = subprocess.run(pre + [sys.executable, "-c", _API], capture_output=True, text=True,
                             env={**env, "N": str(args.n)})
        api_conn, api_disc = (float(x) for x in api.stdout.split())
        cli = (statistics.median(conn) * 1000, statistics.median(disc) * 1000)
    finally:
        host.remove()
    rows = [("fabric network connect (CLI)", cli[0]), ("fabric network disconnect (CLI)", cli[1]),
            ("connect (API only)", api_conn), ("disconnect (API only)", api_disc)]
    if args.markdown:
        print(f"| measurement (median of {args.n}) | ms |\n|---|---|")
        for k, v in rows:
            print(f"| {k} | {v:.1f} |")
    else:
        for k, v in rows:
            print(f"{k:34s} {v:7.1f} ms")


_API = """
import os, statistics, time
from fabric.client.connect import connect
c = connect(None, os.environ["FABRIC_ROOT"])
a, d = [], []
for _ in range(int(os.environ["N"])):
    t = time.perf_counter()
    c.post("/networks/bench-b/connect", {"Container": "c"})
    a.append(time.perf_counter() - t)
    t = time.perf_counter()
    c.post("/networks/bench-b/disconnect", {"Container": "c"})
    d.append(time.perf_counter() - t)
print(statistics.median(a) * 1000, statistics.median(d) * 1000)
"""

if __name__ == "__main__":
    main()
