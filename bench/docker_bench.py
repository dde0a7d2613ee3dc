"""Docker's CLI against fabric and against dockerd, in the same rounds.

Run as root after ./setup.sh:  .venv/bin/python bench/docker_bench.py [-n 20] [--markdown]

Debian's docker CLI (/usr/bin/docker, 20.10, API 1.41) runs
  docker ps
  docker run --rm busybox true
  docker exec CTR true            (a running busybox container)
with DOCKER_HOST on a throwaway fabric lab host's socket, and the same commands on a
throwaway dockerd (when `dockerd` is installed; started in a namespace of its own with
its own data root, overlay2 storage, and fabric's busybox image loaded into it: there is no
registry to pull from). Each round runs each command once on each side, alternating
which side goes first, so that a machine whose speed drifts weighs on both alike.
It prints the medians and fabric/dockerd; the target is fabric no slower.
Everything it made is removed at the end, also after a failure.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.host import hosts

DOCKER = "/usr/bin/docker"
COMMANDS = {"docker ps": ["ps"],
            "docker run --rm busybox true": ["run", "--rm", "busybox", "true"],
            "docker exec CTR true": ["exec", "bench", "true"]}


def docker(env: dict, *args: str, input: bytes | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run([DOCKER, *args], env=env, input=input, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {p.stderr.decode().strip()}")
    return dt


def env_for(sock: str, cfg: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "FABRIC_"))}
    return {**env, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": cfg}


def started(proc: subprocess.Popen, timeout: float, ready: Callable[[], bool]) -> bool:
    """Whether `proc` became ready within `timeout` seconds (False once it died)."""
    for _ in range(int(timeout * 10)):
        if ready():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def dockerd_wanted(no_dockerd: bool) -> bool:
    """Whether to run the dockerd side; when not, why, on stderr."""
    if no_dockerd:
        print("dockerd column skipped: --no-dockerd", file=sys.stderr)
    elif not shutil.which("dockerd") or not os.access(DOCKER, os.X_OK):
        print("dockerd column skipped: dockerd or the docker CLI is not installed "
              "(apt-get install docker.io)", file=sys.stderr)
    else:
        return True
    return False


class Dockerd:
    """A throwaway dockerd in a namespace of its own (a fabric host's, whose own daemon
    is never started), with its data under a temporary directory."""

    def __init__(self, tmp: str, tag: str, storage: str):
        self.dir = os.path.join(tmp, "dockerd")
        os.makedirs(self.dir)
        self.ns_host = hosts.add(f"dk{tag}", start=False)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(self.ns_host.command([
            "dockerd", "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/exec",
            "-H", f"unix://{self.sock}", "--pidfile", f"{self.dir}/docker.pid",
            "--storage-driver", storage]), stdout=subprocess.DEVNULL, stderr=self.log)
        if started(self.proc, 30, lambda: os.path.exists(self.sock) and subprocess.run(
                [DOCKER, "-H", f"unix://{self.sock}", "version"],
                capture_output=True).returncode == 0):
            return
        self.stop()
        raise SystemExit(f"dockerd did not start; see {self.log.name}")

    def load_busybox(self, fabric_env: dict) -> None:
        """fabric's busybox, saved from the fabric host `fabric_env` reaches (made there
        on first use), loaded into this dockerd: there is no registry to pull it from."""
        docker(fabric_env, "run", "--rm", "busybox", "true")
        image = subprocess.run([DOCKER, "image", "save", "busybox"], env=fabric_env,
                               capture_output=True, check=True).stdout
        docker(env_for(self.sock, os.path.join(self.dir, "cfg")), "image", "load",
               input=image)

    def stop(self) -> None:
        pids = [self.proc.pid]
        try:
            with open(f"{self.dir}/exec/containerd/containerd.pid") as f:
                pids.append(int(f.read()))
        except (OSError, ValueError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.ns_host.remove()


def measure(n: int, sides: dict[str, dict]) -> dict[str, dict[str, float]]:
    samples = {cmd: {side: [] for side in sides} for cmd in COMMANDS}
    names = list(sides)
    for i in range(n):
        order = names if i % 2 == 0 else names[::-1]
        for cmd, args in COMMANDS.items():
            for side in order:
                samples[cmd][side].append(docker(sides[side], *args))
    return {cmd: {side: statistics.median(v) * 1000 for side, v in by_side.items()}
            for cmd, by_side in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20, help="rounds")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--no-dockerd", action="store_true", help="fabric's side only")
    ap.add_argument("--storage-driver", default="overlay2",
                    help="dockerd's (overlay2, as a default install has it; vfs is slower)")
    args = ap.parse_args()
    if not os.access(DOCKER, os.X_OK):
        raise SystemExit(f"{DOCKER} is missing: apt-get install docker.io")
    tag = uuid.uuid4().hex[:6]
    tmp = tempfile.mkdtemp(prefix="dkb-")
    made = []
    dockerd = None
    try:
        host = hosts.add(f"db{tag}")
        made.append(host)
        sides = {"fabric": env_for(host.socket, os.path.join(tmp, "cfg"))}
        docker(sides["fabric"], "run", "--rm", "busybox", "true")    # makes the image
        if dockerd_wanted(args.no_dockerd):
            dockerd = Dockerd(tmp, tag, args.storage_driver)
            sides["dockerd"] = env_for(dockerd.sock, os.path.join(tmp, "cfg"))
            dockerd.load_busybox(sides["fabric"])
        for env in sides.values():
            docker(env, "run", "-d", "--name", "bench", "busybox", "sleep", "3600")
            for args_ in COMMANDS.values():
                docker(env, *args_)                                  # warm up
        result = measure(args.n, sides)
        report(result, list(sides), args.n, args.markdown)
        for env in sides.values():
            docker(env, "rm", "-f", "bench")
    finally:
        if dockerd is not None:
            dockerd.stop()
        for h in made:
            h.remove()
        shutil.rmtree(tmp, ignore_errors=True)


def report(result: dict, sides: list[str], n: int, markdown: bool) -> None:
    both = "dockerd" in sides
    if markdown:
        print(f"| command ({n} rounds, median ms) | fabric |" +
              (" dockerd | fabric/dockerd |" if both else ""))
        print("|---|---:|" + ("---:|---:|" if both else ""))
    for cmd, by_side in result.items():
        f = by_side["fabric"]
        if markdown:
            extra = f" {by_side['dockerd']:.0f} | {f / by_side['dockerd']:.2f} |" if both else ""
            print(f"| `{cmd}` | {f:.0f} |{extra}")
        else:
            extra = (f"   dockerd {by_side['dockerd']:7.1f} ms   fabric/dockerd "
                     f"{f / by_side['dockerd']:.2f}") if both else ""
            print(f"{cmd:32} fabric {f:7.1f} ms{extra}")


if __name__ == "__main__":
    main()
