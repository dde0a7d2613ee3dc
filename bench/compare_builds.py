"""Two builds of fabric side by side: a git revision (the build before a change) and the
working tree (the build after it), each installed in a virtualenv of its own and serving
a throwaway lab host of its own, timed in interleaved rounds.

Run as root from the repository:

    .venv/bin/python bench/compare_builds.py [--before main] [-n 20] [--markdown]

Each round times these, each command on one build right after the other (which build
goes first alternates from round to round):
  fabric run --rm busybox true
  fabric ps                              (5 containers running)
  fabric network connect / disconnect    (a running container, a second network)
and the medians are printed per build with after/before (target: <= 1.05).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.host import hosts

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TARGET = 1.05
# What is timed: the name printed, and the command's arguments.
COMMANDS = {"run --rm busybox true": ("run", "--rm", "busybox", "true"),
            "ps (5 running)": ("ps",),
            "network connect": ("network", "connect", "cmp-b", "cmp-c"),
            "network disconnect": ("network", "disconnect", "cmp-b", "cmp-c")}


@dataclass
class Build:
    name: str
    venv: str
    root: str = ""
    prefix: list[str] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env["FABRIC_ROOT"] = self.root
        return env

    def fab(self, *args: str) -> float:
        """Run the build's CLI on its lab host; return the wall time in seconds."""
        cmd = self.prefix + [os.path.join(self.venv, "bin", "fabric"), *args]
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env())
        dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"{self.name}: fabric {' '.join(args)}: {p.stderr.strip()}")
        return dt


@contextmanager
def lab_host(tag: str) -> Iterator[tuple[list[str], str]]:
    """A throwaway lab host made by this tree's fabric.host, with no daemon yet: each
    build's own CLI starts its daemon inside the namespace on its first command. Yields
    the command prefix that runs inside the namespace, and the host's root."""
    host = hosts.add(f"cmp-{tag}-{os.getpid()}", start=False)
    try:
        yield host.command([]), host.root.path
    finally:
        host.remove()


def sources(rev: str, dest: str) -> None:
    """The files of a git revision, or of the working tree as it is (rev "")."""
    os.makedirs(dest)
    if rev:
        archive = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", rev],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
        return
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = os.path.join(REPO, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))


def install(name: str, rev: str, work: str, python: str) -> Build:
    """A regular (not editable) install in a virtualenv of its own, as ./setup.sh does."""
    src, venv = os.path.join(work, f"src-{name}"), os.path.join(work, f"venv-{name}")
    sources(rev, src)
    subprocess.run([python, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-qq",
                    "--disable-pip-version-check", src], check=True)
    return Build(name, venv)


def prepare(b: Build) -> None:
    """Start the daemon, make the image, and the networks and containers the rounds use."""
    b.fab("run", "--rm", "busybox", "true")
    b.fab("network", "create", "cmp-a")
    b.fab("network", "create", "cmp-b")
    b.fab("run", "-d", "--name", "cmp-c", "--network", "cmp-a", "busybox", "sleep", "3600")
    for _ in range(4):
        b.fab("run", "-d", "busybox", "sleep", "3600")
    b.fab("network", "connect", "cmp-b", "cmp-c")
    b.fab("network", "disconnect", "cmp-b", "cmp-c")
    b.samples = {m: [] for m in COMMANDS}


def one_round(builds: list[Build]) -> None:
    """Each command once per build, one build right after the other."""
    for m in COMMANDS:
        for b in builds:
            b.samples[m].append(b.fab(*COMMANDS[m]))


def clean(b: Build) -> None:
    """Containers and networks, before the host goes (the daemon removes their kernel
    objects). Best effort: the benchmark may have stopped half-way."""
    cli = b.prefix + [os.path.join(b.venv, "bin", "fabric")]
    ids = subprocess.run(cli + ["ps", "-aq"], capture_output=True, text=True,
                         env=b.env()).stdout.split()
    if ids:
        subprocess.run(cli + ["rm", "-f", *ids], capture_output=True, env=b.env())
    subprocess.run(cli + ["network", "rm", "cmp-a", "cmp-b"], capture_output=True, env=b.env())


def report(before: Build, after: Build, rounds: int, rev: str, markdown: bool) -> None:
    """Medians per build and their ratio; beside it the median of each round's own
    ratio (the two samples of a round ran seconds apart), steadier when the machine's
    speed drifts."""
    rows = []
    for m in COMMANDS:
        b = statistics.median(before.samples[m]) * 1000
        a = statistics.median(after.samples[m]) * 1000
        paired = statistics.median(x / y for x, y in zip(after.samples[m], before.samples[m]))
        rows.append((m, b, a, a / b, paired))
    if markdown:
        print(f"| fabric ... (median of {rounds}, ms) | before ({rev}) | after (working tree) "
              f"| after / before | per-round ratio |\n|---|---:|---:|---:|---:|")
        for m, b, a, r, p in rows:
            print(f"| `{m}` | {b:.1f} | {a:.1f} | {r:.3f} | {p:.3f} |")
        return
    print(f"{'median of ' + str(rounds) + ' (ms)':26s} {'before':>8s} {'after':>8s} "
          f"{'after/before':>13s} {'per round':>10s}")
    for m, b, a, r, p in rows:
        mark = "" if r <= TARGET else f"  (over {TARGET})"
        print(f"{m:26s} {b:8.1f} {a:8.1f} {r:13.3f} {p:10.3f}{mark}")
    print(f"before: {rev}; after: the working tree of {REPO}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision of the build before "
                    "(default: main)")
    ap.add_argument("-n", type=int, default=20, help="rounds (default 20)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter of both virtualenvs (default: Debian's, as ./setup.sh)")
    ap.add_argument("--markdown", action="store_true", help="a table for bench/RESULTS.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run the benchmark as root")
    # Builds that predate `python -P` spawn their daemon with `-m` from the working
    # directory, which would import this checkout's fabric instead of their own.
    os.chdir("/")
    work = tempfile.mkdtemp(prefix="fabric-compare-")
    try:
        print("installing both builds...", file=sys.stderr)
        builds = [install("before", args.before, work, args.python),
                  install("after", "", work, args.python)]
        with ExitStack() as stack:
            for b in builds:
                b.prefix, b.root = stack.enter_context(lab_host(b.name))
                stack.callback(clean, b)      # before its host goes
            for b in builds:
                prepare(b)
            for i in range(args.n):
                # Alternate which build goes first, so neither always follows the other.
                one_round(builds if i % 2 == 0 else builds[::-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(builds[0], builds[1], args.n, args.before, args.markdown)


if __name__ == "__main__":
    main()
