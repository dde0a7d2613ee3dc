"""How soon a new container, and a new peer, is reachable from every other host (issue 8
§7), with the embedded cluster store and with etcd.

N lab hosts on one segment (tests/cluster's MultiHost, made through fabric.host), a
`routing` network on each and a container on each to probe from. Per round:

- new container: `fabric run -d --network cnet` on the first host; from the moment the
  command is started until a ping from the container on every other host is answered;
- new peer: one more host (made once, outside the timing) joins the network and runs a
  container (`network create` then `run -d`); from the moment the create is started
  until every other host's container gets an answer from it. Then it leaves again
  (container and network removed) and the others unroute it, untimed.

Each other host's container pings on its own thread, every 10 ms with a 200 ms
timeout, so the figure is the slowest host's. Prints the median and the worst round.

    .venv/bin/python bench/reach_bench.py [-n HOSTS] [-r ROUNDS]    # a table for RESULTS.md
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "cluster"))
os.environ.setdefault("FABRIC_HOSTS_DIR", tempfile.mkdtemp(prefix="fhb-", dir="/tmp"))

from multihost import Box, LabHost, MultiHost  # noqa: E402

from fabric.probe.measure import until  # noqa: E402

SUBNET = "10.40.0.0/16"


def reached_by_all(boxes: list[Box], ip: str, start: float, limit: float = 10.0) -> float:
    """Seconds from `start` until every box's ping to `ip` is answered."""
    times: list[float] = []

    def poll(box: Box) -> None:
        took = until(box.netns, ip, "ok", start, limit, timeout=0.2, gap=0.01)
        if took <= limit:
            times.append(took)
    threads = [threading.Thread(target=poll, args=(b,)) for b in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(times) != len(boxes):
        raise SystemExit(f"{ip} was not reachable from every host within {limit:g} s")
    return max(times)


def gone_for_all(boxes: list[Box], ip: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while any(b.probe(ip, timeout=0.1).result == "ok" for b in boxes):
        if time.monotonic() > deadline:
            raise SystemExit(f"{ip} still reachable {limit:g} s after it left")


def measure(store: str, n: int, rounds: int) -> dict:
    lab = MultiHost("rb", store=store)
    try:
        hosts: list[LabHost] = []
        boxes: list[Box] = []
        for i in range(1, n + 1):
            h = lab.add(f"h{i}", f"192.168.18.{10 + i}/24")
            h.fab("network", "create", "-d", "routing", "--subnet", SUBNET, "cnet")
            hosts.append(h)
            boxes.append(h.run(f"p{i}", "--network", "cnet"))
        new_ctr: list[float] = []
        for r in range(rounds):
            start = time.monotonic()
            c = hosts[0].run(f"new{r}", "--network", "cnet")
            new_ctr.append(reached_by_all(boxes[1:], c.ip("cnet"), start))
            hosts[0].fab("rm", "-f", f"new{r}")
        extra = lab.add("hx", "192.168.18.99/24")
        new_peer: list[float] = []
        for r in range(rounds):
            start = time.monotonic()
            extra.fab("network", "create", "-d", "routing", "--subnet", SUBNET, "cnet")
            c = extra.run(f"x{r}", "--network", "cnet")
            ip = c.ip("cnet")
            new_peer.append(reached_by_all(boxes, ip, start))
            extra.fab("rm", "-f", f"x{r}")
            extra.fab("network", "rm", "cnet")
            gone_for_all(boxes, ip)
        return {"container": new_ctr, "peer": new_peer}
    finally:
        lab.close()


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.0f} ms (worst {max(xs) * 1000:.0f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=8, help="hosts")
    ap.add_argument("-r", type=int, default=5, help="rounds")
    args = ap.parse_args()
    rows = ["| store | hosts | new container reachable everywhere | new peer reachable "
            "everywhere |", "|---|---|---|---|"]
    for store in ("sqlite", "etcd"):
        r = measure(store, args.n, args.r)
        rows.append(f"| {store} | {args.n} | {ms(r['container'])} | {ms(r['peer'])} |")
    print("\n".join(rows))
    with contextlib.suppress(OSError):    # empty unless a host was left behind
        os.rmdir(os.environ["FABRIC_HOSTS_DIR"])


if __name__ == "__main__":
    main()
