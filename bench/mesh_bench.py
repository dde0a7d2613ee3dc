"""The mesh driver against a hand-built kernel VXLAN, and how fast a new container is
reached from every host of an 8-host mesh (issue 8 §7).

Throughput and RTT: two lab hosts on one segment share an embedded cluster store
(tests/cluster's MultiHost, made through fabric.host), `fabric mesh launch` on both, a
container on each. Beside the mesh's path the same two container namespaces get a
second one built by hand with plans, of the same shape: a veth from each container
into a bridge on its host whose port is a VXLAN device of its own (VNI 999, learning
off, one static FDB entry and a permanent neighbour entry in the container for the
other end, MTU 1450), through the same NICs. iperf3 (Debian's) between the containers
through each path, alternating round after round; then busybox's adaptive ping (`-A`)
for the round-trip time. Prints medians, mesh/hand-built throughput (target >= 0.90)
and RTT ratios.

Reach time: 8 hosts, `mesh launch` on each, a container on h2..h8; each round starts a
container with a pinned address on h1 (`fabric run -d --ip`) and every other host's
container probes that address until it answers: the round's time is the slowest
host's, counted from the moment `fabric run` is called (and from its return); then the
container is removed and the time until no host reaches it is taken the same way.
Once on the embedded store and once on a lab etcd (`--stores`).

    .venv/bin/python bench/mesh_bench.py [-n ROUNDS] [-t SECONDS] [--hosts 8]
        [--stores sqlite,etcd] [--markdown]
"""

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from cluster_bench import finish, iperf, options
from multihost import SEGMENT, MultiHost, apply  # noqa: F401  (cluster_bench set the path)

from fabric.plan import (
    AddAddress,
    AddFdb,
    AddNeighbour,
    CreateVeth,
    EnsureBridge,
    LinkUp,
    SetMaster,
)
from fabric.plan.tunnel_ops import EnsureVxlan
from fabric.probe import measure

HAND_VNI = 999
MTU = 1450


def hand_leg(h, box_ns: str, address: str, peer_mac: str, peer_ip: str, peer_vtep: str,
             mac: str) -> None:
    """A container namespace's hand-built leg: eth9 into bridge hbr, whose port hvx is
    a VXLAN device sending to the other host for the other leg's MAC."""
    ns = f"/run/netns/{box_ns}"
    apply(EnsureBridge(ns=h.netns, name="hbr", mtu=MTU), LinkUp(ns=h.netns, ifname="hbr"),
          EnsureVxlan(ns=h.netns, name="hvx", vni=HAND_VNI, port=4789, local=h.ip, dev="eth0",
                      tag="bench:hand", mtu=MTU),
          SetMaster(ns=h.netns, ifname="hvx", master="hbr"), LinkUp(ns=h.netns, ifname="hvx"),
          CreateVeth(ns=h.netns, name="hand0", peer="eth9", peer_ns=ns, mtu=MTU,
                     peer_mac=mac),
          SetMaster(ns=h.netns, ifname="hand0", master="hbr"),
          LinkUp(ns=h.netns, ifname="hand0"),
          AddFdb(ns=h.netns, dev="hvx", mac=peer_mac, dst=peer_vtep))
    apply(AddAddress(ns=ns, ifname="eth9", cidr=address), LinkUp(ns=ns, ifname="eth9"),
          AddNeighbour(ns=ns, dev="eth9", ip=peer_ip, mac=peer_mac))


def throughput(rounds: int, seconds: float) -> dict:
    lab = MultiHost("mb")
    try:
        h1, h2 = lab.add("h1", "192.168.18.11/24"), lab.add("h2", "192.168.18.12/24")
        h1.fab("mesh", "launch")
        h2.fab("mesh", "launch", "h1")
        a, b = h1.run("a", "--ip", "10.32.1.2"), h2.run("b", "--ip", "10.32.1.10")
        macs = ("02:99:00:00:00:01", "02:99:00:00:00:02")
        hand_leg(h1, a.netns, "10.99.0.1/24", macs[1], "10.99.0.2", h2.ip, macs[0])
        hand_leg(h2, b.netns, "10.99.0.2/24", macs[0], "10.99.0.1", h1.ip, macs[1])
        paths = [("mesh", "10.32.1.10"), ("hand", "10.99.0.2")]
        got: dict[str, list[float]] = {"mesh": [], "hand": [], "mesh_rtt": [], "hand_rtt": []}
        for i in range(rounds):
            for which, ip in paths if i % 2 == 0 else reversed(paths):
                got[which].append(iperf(b.netns, a.netns, ip, seconds))
                got[which + "_rtt"].append(measure.rtt(a.netns, ip))
        med = {k: statistics.median(v) for k, v in got.items()}
        return {**med, "ratio": med["mesh"] / med["hand"],
                "round_ratio": statistics.median(x / y for x, y in zip(got["mesh"],
                                                                       got["hand"])),
                "rtt_ratio": med["mesh_rtt"] / med["hand_rtt"], "runs": got}
    finally:
        lab.close()


def reach_time(hosts: int, rounds: int, store: str) -> dict:
    lab = MultiHost("mr", store=store)
    try:
        with ThreadPoolExecutor(max_workers=4) as ex:
            made = list(ex.map(lambda i: lab.add(f"h{i}", f"192.168.18.{10 + i}/24"),
                               range(1, hosts + 1)))
        made[0].fab("mesh", "launch")
        with ThreadPoolExecutor(max_workers=4) as ex:
            list(ex.map(lambda h: h.fab("mesh", "launch", "h1"), made[1:]))
        boxes = [h.run(f"w{i}", "--network", "mesh") for i, h in enumerate(made[1:], 2)]
        out: dict[str, list[float]] = {"reach": [], "reach_after_run": [], "gone": []}
        for r in range(rounds):
            ip = f"10.32.9.{10 + r}"
            with ThreadPoolExecutor(max_workers=len(boxes)) as ex:
                t0 = time.monotonic()
                waits = [ex.submit(measure.until, b.netns, ip, "ok", t0) for b in boxes]
                made[0].run(f"new{r}", "--ip", ip)
                ran = time.monotonic() - t0
                worst = max(w.result() for w in waits)
            out["reach"].append(worst)
            out["reach_after_run"].append(worst - ran)
            with ThreadPoolExecutor(max_workers=len(boxes)) as ex:
                t0 = time.monotonic()
                waits = [ex.submit(measure.until, b.netns, ip, "blocked", t0) for b in boxes]
                made[0].fab("rm", "-f", f"new{r}")
                out["gone"].append(max(w.result() for w in waits))
        return {k: statistics.median(v) for k, v in out.items()} | {"runs": out}
    finally:
        lab.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=8, help="hosts of the reach-time mesh")
    ap.add_argument("--stores", default="sqlite,etcd",
                    help="cluster stores of the reach-time mesh, in turn (etcd needs etcd-server)")
    args = options(ap)
    tp = throughput(args.n, args.t)
    reach = {store: reach_time(args.hosts, args.n, store) for store in args.stores.split(",")}
    if args.markdown:
        print("| path | Gbit/s | ping RTT ms |\n|---|---|---|")
        print(f"| mesh | {tp['mesh']:.2f} | {tp['mesh_rtt']:.3f} |")
        print(f"| hand-built VXLAN | {tp['hand']:.2f} | {tp['hand_rtt']:.3f} |")
        print(f"| mesh / hand-built | {tp['ratio']:.2f} (per round {tp['round_ratio']:.2f}) | "
              f"{tp['rtt_ratio']:.2f} |")
        print(f"\n| {args.hosts}-host mesh, median of {args.n} | store | seconds |\n|---|---|---|")
        for store, rt in reach.items():
            print(f"| new container reached from every other host, from `run` called | "
                  f"{store} | {rt['reach']:.3f} |")
            print(f"| same, from `run` returned | {store} | {rt['reach_after_run']:.3f} |")
            print(f"| removed container gone from every other host | {store} | "
                  f"{rt['gone']:.3f} |")
    else:
        print(f"mesh {tp['mesh']:.2f} Gbit/s, hand-built VXLAN {tp['hand']:.2f} Gbit/s: ratio "
              f"{tp['ratio']:.2f} (per round {tp['round_ratio']:.2f})")
        print(f"ping RTT mesh {tp['mesh_rtt']:.3f} ms, hand-built {tp['hand_rtt']:.3f} ms: "
              f"ratio {tp['rtt_ratio']:.2f}")
        for store, rt in reach.items():
            print(f"{args.hosts} hosts on {store}: reached everywhere {rt['reach']:.3f} s after "
                  f"run was called ({rt['reach_after_run']:.3f} s after it returned); gone "
                  f"{rt['gone']:.3f} s after rm")
            print(f"rounds: {rt['runs']}")
    finish()


if __name__ == "__main__":
    main()
