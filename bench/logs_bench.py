"""Logs benchmark: `fabric logs` of a container whose log is 500 MB.

Run as root after ./setup.sh:  .venv/bin/python bench/logs_bench.py [-n 20] [--size-mb 500]

It makes a throwaway host (fabric.host), creates a container and writes its log
straight into conmon's k8s-file format (a container would take minutes to print
500 MB), then measures, each as the median of N runs of the CLI inside the host:
  fabric logs --tail 1            wall time, bytes the daemon read, its memory growth
  fabric logs --since 2s          (found by bisection)
  fabric logs -f --tail 1         of a running container: time to its first line
and with --full, one `fabric logs` of the whole log to /dev/null (time, memory).
Memory growth is the daemon's peak resident size (VmHWM, reset before each run
through /proc/PID/clear_refs) over its size before; bytes read are /proc/PID/io rchar.
Targets: --tail 1 under 100 ms, growth under 20 MB. --markdown prints a table.
"""

import argparse
import os
import select
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.host import hosts

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")


class Daemon:
    """What /proc says about the host's daemon."""

    def __init__(self, pid: int):
        self.pid = pid

    def _field(self, name: str, key: str) -> int:
        with open(f"/proc/{self.pid}/{name}") as f:
            return int(next(ln for ln in f if ln.startswith(key)).split()[1])

    def reset_peak(self) -> int:
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")
        return self._field("status", "VmRSS:") * 1024

    def peak(self) -> int:
        return self._field("status", "VmHWM:") * 1024

    def bytes_read(self) -> int:
        return self._field("io", "rchar:")


def write_log(path: str, size: int) -> int:
    """About `size` bytes of records, one a millisecond, ending now; returns the count."""
    body = b"x" * 70
    start = time.time() - size // 120 / 1000   # about 120 bytes a record
    count = 0
    with open(path, "wb", buffering=1 << 20) as f:
        written = 0
        while written < size:
            second = int(start) + count // 1000
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
            block = b"".join(b"%s.%09dZ stdout F record %09d %s\n"
                             % (stamp, ms * 1000000, count + ms, body) for ms in range(1000))
            f.write(block)
            written += len(block)
            count += 1000
    return count


def measure(cmd: list[str], daemon: Daemon, env: dict) -> tuple[float, int, int, str]:
    """(seconds, bytes the daemon read, its peak growth, output) of one CLI run."""
    rss = daemon.reset_peak()
    read0 = daemon.bytes_read()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr.decode().strip()}")
    return dt, daemon.bytes_read() - read0, daemon.peak() - rss, p.stdout.decode()


def first_line(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    try:
        assert p.stdout is not None
        if not select.select([p.stdout], [], [], 30)[0]:
            raise SystemExit(f"{' '.join(cmd)}: no line in 30 s")
        p.stdout.readline()
        return time.perf_counter() - t
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="runs per measurement (default 20)")
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--full", action="store_true", help="also read the whole log once")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run the benchmark as root")
    os.chdir("/")   # the daemon (`python -m`) imports the installed fabric, not this tree
    host = hosts.add(f"logbench{os.getpid()}", start=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    env["FABRIC_ROOT"] = host.root.path
    fab = [*host.command([]), FABRIC]
    rows: list[tuple[str, str]] = []
    try:
        def ctr(*argv: str) -> str:
            return subprocess.run(fab + list(argv), capture_output=True, text=True, env=env,
                                  check=True).stdout.strip()
        big = ctr("create", "--name", "big", "busybox", "true")
        chatty = ctr("create", "--name", "chatty", "busybox", "sh", "-c",
                     "while true; do echo tick; sleep 0.1; done")
        records = 0
        for cid in (big, chatty):
            records = write_log(os.path.join(host.root.path, "containers", cid, "ctr.log"),
                                args.size_mb << 20)
        ctr("start", "chatty")
        pid = host.daemon_pid()
        assert pid, "the host's daemon is not running"
        daemon = Daemon(pid)
        for name, argv in (("fabric logs --tail 1", ("logs", "--tail", "1", "big")),
                           ("fabric logs --since 2s", ("logs", "--since", "2s", "big"))):
            runs = [measure(fab + list(argv), daemon, env) for _ in range(args.n)]
            rows.append((f"`{name}` ({args.size_mb} MB log), median",
                         f"{statistics.median(r[0] for r in runs) * 1000:.0f} ms"))
            rows.append((f"`{name}`: bytes the daemon read, largest",
                         f"{max(r[1] for r in runs) / 1024:.0f} KiB"))
            rows.append((f"`{name}`: daemon peak memory growth, largest",
                         f"{max(r[2] for r in runs) / 2**20:.1f} MB"))
        f = [first_line(fab + ["logs", "-f", "--tail", "1", "chatty"], env)
             for _ in range(args.n)]
        rows.append(("`fabric logs -f --tail 1`, time to the first line, median",
                     f"{statistics.median(f) * 1000:.0f} ms"))
        if args.full:
            dt, _read, grew, out = measure(fab + ["logs", "big"], daemon, env)
            rows.append((f"`fabric logs` of all {records:,} records", f"{dt:.1f} s"))
            rows.append(("`fabric logs` of all: daemon peak memory growth",
                         f"{grew / 2**20:.1f} MB"))
    finally:
        host.remove()
    if args.markdown:
        table = [f"| measurement (n = {args.n}) | result |", "|---|---:|"]
        print("\n".join(table + [f"| {k} | {v} |" for k, v in rows]))
    else:
        print("\n".join(f"{k.replace('`', ''):70s} {v:>12s}" for k, v in rows))


if __name__ == "__main__":
    main()
