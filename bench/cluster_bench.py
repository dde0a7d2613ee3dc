"""Cross-host TCP throughput of the multi-host drivers beside a hand-built path between
the same two namespaces (issue 7 §8).

Two lab hosts on one segment share an embedded cluster store (tests/cluster's
MultiHost, made through fabric.host); a container on each, on a `routing` network or
on a lab-wide bridge with `-o uplink=eth0`. Beside the driver's path, the same two
container namespaces get a second one built by hand with plans, of the same shape
through a second NIC on the same segment:

- routing: a veth from each container into a bridge of its own on its host, holding a
  gateway address; routes between the hosts' subnets via their eth1 addresses;
- uplink: a veth from each container into a bridge that holds the host's eth1, so
  both containers are on the segment itself.

iperf3 (Debian's) runs in the containers' namespaces: server in one, client in the
other, the two paths alternating round after round so a machine whose speed drifts
weighs on both alike. Prints the median Gbit/s of each, driver/hand-built, and the
median of each round's own ratio (steadier while other work shares the machine).

    .venv/bin/python bench/cluster_bench.py [-n ROUNDS] [-t SECONDS] [--markdown]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "cluster"))
os.environ.setdefault("FABRIC_HOSTS_DIR", tempfile.mkdtemp(prefix="fhb-", dir="/tmp"))

from multihost import SEGMENT, MultiHost, apply  # noqa: E402

from fabric.plan import (  # noqa: E402
    AddAddress,
    AddRoute,
    CreateVeth,
    EnsureBridge,
    LinkUp,
    SetMaster,
)
from fabric.probe.measure import IPERF_MISSING, throughput  # noqa: E402


def iperf(server_ns: str, client_ns: str, dst: str, seconds: float) -> float:
    """Gbit/s received, one run."""
    return throughput(server_ns, client_ns, dst, seconds) / 1e9


def second_nic(lab: MultiHost, h, address: str | None, bridge: str | None) -> None:
    """eth1 on the segment: with an address, or as a port of `bridge`."""
    port = f"{h.name}-eth1"
    ops: list = [CreateVeth(ns=h.netns, name="eth1", peer=port, peer_ns=lab.segment),
                 SetMaster(ns=lab.segment, ifname=port, master=SEGMENT),
                 LinkUp(ns=lab.segment, ifname=port), LinkUp(ns=h.netns, ifname="eth1")]
    if bridge:
        ops.append(SetMaster(ns=h.netns, ifname="eth1", master=bridge))
    if address:
        ops.append(AddAddress(ns=h.netns, ifname="eth1", cidr=address))
    apply(*ops)


def hand_leg(h, box_ns: str, bridge: str, address: str, gw: str | None,
             routes: tuple[tuple[str, str], ...]) -> None:
    """A container namespace's hand-built leg: a veth into `bridge` on its host."""
    apply(EnsureBridge(ns=h.netns, name=bridge), LinkUp(ns=h.netns, ifname=bridge),
          CreateVeth(ns=h.netns, name="hand0", peer="eth9", peer_ns=f"/run/netns/{box_ns}"),
          SetMaster(ns=h.netns, ifname="hand0", master=bridge),
          LinkUp(ns=h.netns, ifname="hand0"),
          AddAddress(ns=box_ns, ifname="eth9", cidr=address), LinkUp(ns=box_ns, ifname="eth9"),
          *[AddRoute(ns=box_ns, dst=dst, gateway=via) for dst, via in routes])
    if gw:
        apply(AddAddress(ns=h.netns, ifname=bridge, cidr=gw))


def routing_pair(lab: MultiHost):
    h1, h2 = lab.add("h1", "192.168.18.11/24"), lab.add("h2", "192.168.18.12/24")
    for h in (h1, h2):
        h.fab("network", "create", "-d", "routing", "--subnet", "10.40.0.0/16", "cnet")
    a, b = h1.run("a", "--network", "cnet"), h2.run("b", "--network", "cnet")
    for h, n, other in ((h1, 1, 2), (h2, 2, 1)):
        second_nic(lab, h, f"192.168.19.1{n}/24", None)
        apply(AddRoute(ns=h.netns, dst=f"10.99.{other}.0/24", gateway=f"192.168.19.1{other}"))
    hand_leg(h1, a.netns, "hand", "10.99.1.2/24", "10.99.1.1/24",
             (("10.99.2.0/24", "10.99.1.1"),))
    hand_leg(h2, b.netns, "hand", "10.99.2.2/24", "10.99.2.1/24",
             (("10.99.1.0/24", "10.99.2.1"),))
    return a, b, b.ip("cnet"), "10.99.2.2"


def uplink_pair(lab: MultiHost):
    h1, h2 = lab.add("h1", "192.168.18.11/24"), lab.add("h2", "192.168.18.12/24")
    for h, piece in ((h1, "192.168.18.64/27"), (h2, "192.168.18.96/27")):
        h.fab("network", "create", "--subnet", "192.168.18.0/24", "-o", "uplink=eth0", "-o",
              f"slice={piece}", "lan")
    a, b = h1.run("a", "--network", "lan"), h2.run("b", "--network", "lan")
    for h, box, n in ((h1, a, 1), (h2, b, 2)):
        apply(EnsureBridge(ns=h.netns, name="hand"), LinkUp(ns=h.netns, ifname="hand"))
        second_nic(lab, h, None, "hand")
        hand_leg(h, box.netns, "hand", f"10.98.0.{n}/24", None, ())
    return a, b, b.ip("lan"), "10.98.0.2"


def measure(name: str, build, rounds: int, seconds: float) -> dict:
    lab = MultiHost("bn")
    try:
        a, b, driver_ip, hand_ip = build(lab)
        got: dict[str, list[float]] = {"driver": [], "hand": []}
        for i in range(rounds):
            order = [("driver", driver_ip), ("hand", hand_ip)]
            for which, ip in order if i % 2 == 0 else reversed(order):
                got[which].append(iperf(b.netns, a.netns, ip, seconds))
        d, h = statistics.median(got["driver"]), statistics.median(got["hand"])
        # each round's own ratio: steadier while other work shares the machine
        per_round = statistics.median(x / y for x, y in zip(got["driver"], got["hand"]))
        return {"name": name, "driver": d, "hand": h, "ratio": d / h,
                "round_ratio": per_round, "runs": got}
    finally:
        lab.close()


def options(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """-n, -t and --markdown beside `ap`'s own; iperf3 must be there."""
    ap.add_argument("-n", type=int, default=5, help="rounds (one run of each path)")
    ap.add_argument("-t", type=float, default=3.0, help="seconds per iperf3 run")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if not shutil.which("iperf3"):
        sys.exit(IPERF_MISSING)
    return args


def finish() -> None:
    """The hosts directory the benchmark made, when it is empty again."""
    try:
        os.rmdir(os.environ["FABRIC_HOSTS_DIR"])
    except OSError:
        pass


def main() -> None:
    args = options(argparse.ArgumentParser())
    results = [measure("routing", routing_pair, args.n, args.t),
               measure("bridge -o uplink=eth0", uplink_pair, args.n, args.t)]
    if args.markdown:
        print("| driver | driver Gbit/s | hand-built Gbit/s | ratio of medians | "
              "median of round ratios |")
        print("|---|---|---|---|---|")
        for r in results:
            print(f"| {r['name']} | {r['driver']:.2f} | {r['hand']:.2f} | {r['ratio']:.2f} | "
                  f"{r['round_ratio']:.2f} |")
    else:
        for r in results:
            print(f"{r['name']:24} {r['driver']:6.2f} Gbit/s  hand-built {r['hand']:6.2f} "
                  f"Gbit/s  ratio {r['ratio']:.2f} (per round {r['round_ratio']:.2f})")
    finish()


if __name__ == "__main__":
    main()
