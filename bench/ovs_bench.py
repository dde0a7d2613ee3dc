"""Cross-host TCP throughput and ping RTT of the ovs driver beside a hand-built OVS GRE
between the same two container namespaces (issue 8 §7; target: at least 80%).

Two lab hosts on one segment share an embedded cluster store (tests/cluster's
MultiHost); each runs its own OVS, started by its daemon for a flat `ovs` network (one
L2 segment over GRE), with a container on each host. Beside it, in the same OVS
instances (the same userspace datapath and underlay bridge), a second path is built by
hand as the seed does it: a bridge per host, `ovs-vsctl add-port BR gre9 -- set
interface gre9 type=gre options:remote_ip=... options:key=9`, a veth from each
container into it with the same MTU and offloads as the driver's. iperf3 runs between
the containers over each path in turn, round after round; ping's average RTT too.

    .venv/bin/python bench/ovs_bench.py [-n ROUNDS] [-t SECONDS] [--markdown]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "cluster"))
os.environ.setdefault("FABRIC_HOSTS_DIR", tempfile.mkdtemp(prefix="fhb-", dir="/tmp"))

from cluster_bench import iperf  # noqa: E402
from multihost import MultiHost, apply, wait_until  # noqa: E402

from fabric.plan import (  # noqa: E402
    AddAddress,
    CreateVeth,
    LinkUp,
    TxOffloads,
)
from fabric.probe import measure  # noqa: E402

MTU = 1450


def vsctl(h, *args: str) -> None:
    env = dict(os.environ, OVS_RUNDIR=os.path.join(h.host.root.path, "ovs"))
    subprocess.run(["ovs-vsctl", *args], env=env, check=True, capture_output=True)


def hand_built(h, box_ns: str, peer_ip: str, address: str) -> None:
    """The seed's way, in the host's own OVS: a bridge, a GRE port, a container's veth."""
    vsctl(h, "add-br", "hand", "--", "set", "bridge", "hand", "datapath_type=netdev")
    vsctl(h, "add-port", "hand", "gre9", "--", "set", "interface", "gre9", "type=gre",
          f"options:remote_ip={peer_ip}", "options:key=9")
    apply(CreateVeth(ns=h.netns, name="hand0", peer="eth9", peer_ns=f"/run/netns/{box_ns}",
                     mtu=MTU),
          TxOffloads(ns=box_ns, ifname="eth9"), LinkUp(ns=h.netns, ifname="hand0"),
          AddAddress(ns=box_ns, ifname="eth9", cidr=address), LinkUp(ns=box_ns, ifname="eth9"))
    vsctl(h, "add-port", "hand", "hand0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5, help="rounds (one run of each path)")
    ap.add_argument("-t", type=float, default=3.0, help="seconds per iperf3 run")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if not shutil.which("iperf3"):
        sys.exit("iperf3 is not installed: apt-get install iperf3")
    lab = MultiHost("ob")
    try:
        h1, h2 = lab.add("h1", "192.168.18.11/24"), lab.add("h2", "192.168.18.12/24")
        for h in (h1, h2):
            h.fab("network", "create", "-d", "ovs", "-o", "flat=true", "--subnet",
                  "10.62.0.0/16", "flat")
        a, b = h1.run("a", "--network", "flat"), h2.run("b", "--network", "flat")
        driver_ip, hand_ip = b.ip("flat"), "10.97.0.2"
        assert wait_until(lambda: a.probe(driver_ip).result == "ok", 10.0)[0]
        hand_built(h1, a.netns, h2.ip, "10.97.0.1/24")
        hand_built(h2, b.netns, h1.ip, "10.97.0.2/24")
        assert wait_until(lambda: a.probe(hand_ip).result == "ok", 10.0)[0]
        got: dict[str, list[float]] = {"driver": [], "hand": []}
        rtt: dict[str, list[float]] = {"driver": [], "hand": []}
        for i in range(args.n):
            order = [("driver", driver_ip), ("hand", hand_ip)]
            for which, ip in order if i % 2 == 0 else reversed(order):
                got[which].append(iperf(b.netns, a.netns, ip, args.t))
                rtt[which].append(measure.rtt(a.netns, ip, 50, interval=0.02))
    finally:
        lab.close()
    d, hb = statistics.median(got["driver"]), statistics.median(got["hand"])
    per_round = statistics.median(x / y for x, y in zip(got["driver"], got["hand"]))
    rd, rh = statistics.median(rtt["driver"]), statistics.median(rtt["hand"])
    if args.markdown:
        print("| path | Gbit/s | ping avg ms |")
        print("|---|---|---|")
        print(f"| ovs driver (flat, GRE) | {d:.2f} | {rd:.3f} |")
        print(f"| hand-built OVS GRE | {hb:.2f} | {rh:.3f} |")
        print(f"| driver / hand-built | {d / hb:.2f} (per round {per_round:.2f}) | "
              f"{rh / rd:.2f} (hand/driver) |")
    else:
        print(f"ovs driver   {d:6.2f} Gbit/s  ping {rd:.3f} ms")
        print(f"hand-built   {hb:6.2f} Gbit/s  ping {rh:.3f} ms")
        print(f"throughput ratio {d / hb:.2f} (per round {per_round:.2f}); "
              f"RTT hand/driver {rh / rd:.2f}")


if __name__ == "__main__":
    main()
