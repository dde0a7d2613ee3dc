"""kill -9 of the daemon at random moments of `network connect` and `disconnect`: after
each kill a new daemon starts, and the store, the kernel and `inspect` must agree
(tests/net/crash_checks.py); every few rounds every container is restarted, and must
start. Prints how many kills landed while the request was being served, what each
left, and how many rounds left any disagreement.

Run as root after ./setup.sh:  .venv/bin/python bench/crash_bench.py [-n 50] [--markdown]
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "net"))

from crash_checks import Observed, settled  # noqa: E402

from fabric.host import hosts  # noqa: E402

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
NAMES = ("a", "b", "c")


class Lab:
    def __init__(self) -> None:
        self.host = hosts.add(f"crash{os.getpid()}", start=False)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        self.env["FABRIC_ROOT"] = self.host.root.path
        self.seen = 0       # reconcile lines in the daemon's log

    def fab(self, *args: str, check: bool = True) -> str:
        p = subprocess.run(self.host.command([FABRIC, *args]), capture_output=True,
                           text=True, env=self.env, timeout=60)
        if check and p.returncode:
            raise RuntimeError(f"fabric {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout

    def sh(self, cmd: str) -> str:
        return self.host.run(["sh", "-c", cmd], capture_output=True, text=True).stdout

    def networks_of(self, name: str) -> set[str]:
        return set(json.loads(self.fab("inspect", name))[0]["NetworkSettings"]["Networks"])

    def observe(self) -> Observed:
        ids = self.fab("ps", "-aq", "--no-trunc").split()
        docs = json.loads(self.fab("inspect", *ids)) if ids else []
        nets = json.loads(self.fab("network", "inspect",
                                   *self.fab("network", "ls", "-q", "--no-trunc").split()))
        db = sqlite3.connect(f"file:{self.host.root.db}?mode=ro", uri=True)
        try:
            rows = [json.loads(r[0]) for r in db.execute("SELECT doc FROM endpoints")]
        finally:
            db.close()
        boxes = {d["Id"]: json.loads(self.sh(f"ip -n {d['NetworkSettings']['SandboxID']} "
                                             "-j addr show") or "[]")
                 for d in docs if d["State"]["Status"] == "running"}
        return Observed(docs=docs, rows=rows, networks=nets,
                        host_links=json.loads(self.sh("ip -j -d link show") or "[]"),
                        sandboxes=boxes)

    def repairs(self) -> int:
        """How many repairs the reconcile logged since the last call."""
        with open(self.host.root.daemon_log, errors="replace") as f:
            lines = sum(1 for ln in f if ln.startswith("reconcile: "))
        new, self.seen = lines - self.seen, lines
        return new

    def calibrate(self, rounds: int = 7) -> dict[str, float]:
        """1.2 times the median time the daemon takes to answer connect and
        disconnect, so that most kills land while it serves them."""
        from fabric.client.http import Client
        client = Client(self.host.root.socket)
        took: dict[str, list[float]] = {"connect": [], "disconnect": []}
        for _ in range(rounds):
            for verb in took:
                t = time.perf_counter()
                client.post(f"/networks/side/{verb}", {"Container": NAMES[0]})
                took[verb].append(time.perf_counter() - t)
        return {verb: 1.2 * sorted(v)[len(v) // 2] for verb, v in took.items()}

    def kill_during(self, path: str, body: dict, delay: float) -> bool:
        """Send one request and kill the daemon `delay` s later; True when the kill
        landed before the answer."""
        from fabric.client.http import Client
        client = Client(self.host.root.socket)
        answered = threading.Event()

        def send() -> None:
            try:
                client.post(path, body)
                answered.set()
            except Exception:
                pass
        t = threading.Thread(target=send)
        t.start()
        time.sleep(delay)
        self.host.stop_daemon(signal.SIGKILL)
        t.join(10)
        return not answered.is_set()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50, help="kill -9 rounds")
    ap.add_argument("--max-delay", type=float, default=None,
                    help="kill within this many seconds of the request (default: 1.2 "
                         "times the request's own median time, measured first)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    # A daemon is started as `python -m fabric.daemon`, which imports `fabric` from its
    # working directory first: from a checkout, that is the checkout's code, whatever
    # build this is. Start it from elsewhere.
    os.chdir("/")
    rnd = random.Random(args.seed)
    lab = Lab()
    tally: Counter = Counter()
    bad: list[str] = []
    t0 = time.monotonic()
    try:
        lab.fab("network", "create", "--subnet", "10.170.0.0/24", "side")
        for name in NAMES:
            lab.fab("run", "-d", "--name", name, "busybox", "sleep", "3600")
        window = lab.calibrate() if args.max_delay is None else \
            {"connect": args.max_delay, "disconnect": args.max_delay}
        for i in range(args.n):
            name = rnd.choice(NAMES)
            verb = "disconnect" if "side" in lab.networks_of(name) else "connect"
            mid = lab.kill_during(f"/networks/side/{verb}", {"Container": name},
                                  rnd.uniform(0, window[verb]))
            found = settled(lab.observe)       # the CLI started a new daemon
            done = ("side" in lab.networks_of(name)) == (verb == "connect")
            tally[(verb, "killed mid-request" if mid else "answered first",
                   "done" if done else "not done")] += 1
            repairs = lab.repairs()
            tally["repaired rounds"] += bool(repairs)
            tally["repairs"] += repairs
            if found:
                bad.append(f"round {i} ({verb} {name}): {found}")
            if i % 10 == 9:
                for n in NAMES:
                    lab.fab("restart", "-t", "0", n)
                tally["restarts"] += len(NAMES)
        for n in NAMES:
            lab.fab("restart", "-t", "0", n)
        tally["restarts"] += len(NAMES)
        found = settled(lab.observe)
        if found:
            bad.append(f"after the last restarts: {found}")
    finally:
        lab.host.remove()
    report(args, tally, bad, time.monotonic() - t0)


def report(args, tally: Counter, bad: list[str], took: float) -> None:
    rows = sorted((k, v) for k, v in tally.items() if isinstance(k, tuple))
    if args.markdown:
        print("| request | kill | outcome | rounds |\n|---|---|---|---:|")
        for (verb, when, outcome), v in rows:
            print(f"| {verb} | {when} | {outcome} | {v} |")
        print(f"\n{args.n} rounds in {took:.0f} s; rounds after which the new daemon "
              f"repaired something: {tally['repaired rounds']} ({tally['repairs']} repairs); "
              f"rounds where store, kernel and inspect disagreed: {len(bad)}; containers "
              f"restarted after kills: {tally['restarts']}, all started.")
    else:
        for (verb, when, outcome), v in rows:
            print(f"{verb:10s} {when:20s} {outcome:9s} {v:4d}")
        print(f"{args.n} rounds, {took:.0f} s, {tally['restarts']} restarts; repaired "
              f"rounds: {tally['repaired rounds']}; disagreements: {len(bad)}")
    for line in bad:
        print(line)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
