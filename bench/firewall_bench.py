"""Firewall benchmark: the cost of one more link or published port, and per-packet cost.

Run as root after ./setup.sh:  .venv/bin/python bench/firewall_bench.py [-n 30] [--markdown]

Everything happens in throwaway namespaces (removed at the end, even on failure):

1. Change cost, with 10 and with 1,000 links (or published ports) already there:
   - fabric nftables, `apply()` as the network manager calls it (element delta);
   - fabric nftables, full replace (`apply(force=True)`), what a naive renderer pays;
   - fabric iptables backend, `apply()` (iptables-restore of fabric's chains);
   - Docker's layout: one more `iptables -A` per link (two per port: DNAT + ACCEPT),
     into a chain already holding that many rules.
2. Packet cost, between two containers on one bridge (br_netfilter on, this kernel's
   default, so bridged packets also cross conntrack and the inet table):
   - ICMP echo RTT (busybox ping -A, 1,000 per round) on an icc=true network: no
     ruleset at all, fabric's ruleset with no links or ports, and with 1,000 of each;
   - UDP request/response RTT between a linked pair on an icc=false network (every
     packet looks the pair up): no ruleset, fabric with that one link, fabric with
     1,000 links and 1,000 ports, and Docker's layout with the pair's rule after
     1,000 others.
Medians throughout; rounds alternate between layouts so drift hits them alike.

`--counters ROUNDS` measures only the packet cost of fabric's ruleset with and without
its rules' counters, in turn (bench/RESULTS.md, "Counters on fabric's rules").
"""

import argparse
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fabric.firewall.backend import get_backend
from fabric.firewall.intent import (
    EndpointIntent,
    FirewallFacts,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
)
from fabric.host.bare import Namespaces
from fabric.net import nsexec

SUBNET = "10.240.0.0/16"


class Lab:
    """A host namespace with bridge `fbb<uid>` and two containers on it."""

    def __init__(self):
        from pyroute2 import IPRoute
        self.uid = secrets.token_hex(3)
        self.spaces = Namespaces(f"fabfwb{self.uid}-")
        self.host = self._ns("h")
        self.bridge = f"fbb{self.uid}"
        self.ctrs = []
        with IPRoute(netns=self.host) as ipr:
            ipr.link("add", ifname=self.bridge, kind="bridge")
            br = ipr.link_lookup(ifname=self.bridge)[0]
            ipr.addr("add", index=br, address="10.240.0.1", prefixlen=16)
            ipr.link("set", index=br, state="up")
        for i in (1, 2):
            ns = self._ns(f"c{i}")
            host_if, ip, mac = f"fbv{self.uid}{i}", f"10.240.0.{10 + i}", f"02:00:00:f0:00:{i:02x}"
            with IPRoute(netns=self.host) as ipr:
                ipr.link("add", ifname=host_if, kind="veth",
                         peer={"ifname": "eth0", "net_ns_fd": ns, "address": mac})
                idx = ipr.link_lookup(ifname=host_if)[0]
                ipr.link("set", index=idx, master=br, state="up")
            with IPRoute(netns=ns) as ipr:
                idx = ipr.link_lookup(ifname="eth0")[0]
                ipr.addr("add", index=idx, address=ip, prefixlen=16)
                ipr.link("set", index=idx, state="up")
            self.ctrs.append((ns, host_if, ip, mac))

    def _ns(self, role: str) -> str:
        return self.spaces.make(role)  # lo up

    def sh(self, *cmd: str, input: str | None = None) -> str:
        p = subprocess.run(["ip", "netns", "exec", self.host, *cmd], input=input,
                           capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()}")
        return p.stdout

    def destroy(self):
        self.spaces.remove()


# --- intents -------------------------------------------------------------------------

def fake_ip(i: int) -> str:
    return f"10.240.{1 + i // 250}.{1 + i % 250}"


def intent(lab: Lab, links: int, ports: int, icc: bool = False) -> FirewallIntent:
    net = NetworkIntent("bench", "bench", FirewallFacts((lab.bridge,), icc=icc), (SUBNET,),
                        ("10.240.0.1",))
    eps = tuple(EndpointIntent("bench", f"c{k}", host_if, ip, mac)
                for k, (_, host_if, ip, mac) in enumerate(lab.ctrs))
    (_, _, ip1, _), (_, _, ip2, _) = lab.ctrs
    lk = [LinkIntent("bench", fake_ip(2 * i), fake_ip(2 * i + 1), (("tcp", 80, 80),))
          for i in range(links - 1)]
    lk.append(LinkIntent("bench", ip1, ip2, (("udp", 5000, 5000),)))  # the real pair last
    ps = tuple(PortIntent(f"p{i}", "bench", "tcp", "0.0.0.0", 20000 + i, 20000 + i,
                          fake_ip(i), 80, 80) for i in range(ports))
    return FirewallIntent(networks=(net,), endpoints=eps, links=tuple(lk), ports=ps)


# --- change cost ----------------------------------------------------------------------

def time_fabric(lab: Lab, backend: str, n: int, rounds: int, what: str, force: bool) -> float:
    b = get_backend(backend, netns=lab.host)
    base = intent(lab, n if what == "link" else 1, n if what == "port" else 0)
    more = intent(lab, n + 1 if what == "link" else 1, n + 1 if what == "port" else 0)
    b.apply(base)
    samples = []
    for _ in range(rounds):
        # After a commit that deleted elements the kernel frees them after an RCU grace
        # period, and the next nftables request waits for it (~10 ms here). A daemon
        # adds links at human pace, so let that settle before timing an addition.
        time.sleep(0.05)
        t = time.perf_counter()
        b.apply(more, force=force)
        samples.append(time.perf_counter() - t)
        b.apply(base)
    b.clear()
    return statistics.median(samples) * 1000


def docker_style_setup(lab: Lab, links: int, ports: int) -> None:
    """Docker's layout: a FORWARD jump to a chain with one ACCEPT per link pair and per
    published port, one DNAT per port in nat."""
    flt = ["*filter", ":DOCKERB - [0:0]", "-I FORWARD -j DOCKERB"]
    for i in range(links):
        flt.append(f"-A DOCKERB -s {fake_ip(2 * i)}/32 -d {fake_ip(2 * i + 1)}/32 "
                   f"-i {lab.bridge} -o {lab.bridge} -p tcp -m tcp --dport 80 -j ACCEPT")
    nat = ["*nat", ":DOCKERB - [0:0]"]
    for i in range(ports):
        flt.append(f"-A DOCKERB -d {fake_ip(i)}/32 ! -i {lab.bridge} -o {lab.bridge} "
                   f"-p tcp -m tcp --dport 80 -j ACCEPT")
        nat.append(f"-A DOCKERB -p tcp -m tcp --dport {20000 + i} -j DNAT "
                   f"--to-destination {fake_ip(i)}:80")
    lab.sh("iptables-restore", "--noflush",
           input="\n".join(flt + ["COMMIT"] + nat + ["COMMIT"]) + "\n")


def docker_style_clear(lab: Lab) -> None:
    lab.sh("iptables-restore", "--noflush",
           input="*filter\n-D FORWARD -j DOCKERB\n-F DOCKERB\n-X DOCKERB\nCOMMIT\n"
                 "*nat\n-F DOCKERB\n-X DOCKERB\nCOMMIT\n")


def time_docker_style(lab: Lab, n: int, rounds: int, what: str) -> float:
    docker_style_setup(lab, n if what == "link" else 0, n if what == "port" else 0)
    if what == "link":
        add = [["-A", "DOCKERB", "-s", "10.240.250.1/32", "-d", "10.240.250.2/32", "-i",
                lab.bridge, "-o", lab.bridge, "-p", "tcp", "-m", "tcp", "--dport", "80",
                "-j", "ACCEPT"]]
    else:
        add = [["-t", "nat", "-A", "DOCKERB", "-p", "tcp", "-m", "tcp", "--dport", "30000",
                "-j", "DNAT", "--to-destination", "10.240.250.1:80"],
               ["-A", "DOCKERB", "-d", "10.240.250.1/32", "!", "-i", lab.bridge, "-o",
                lab.bridge, "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "ACCEPT"]]
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        for a in add:
            lab.sh("iptables", "-w", *a)
        samples.append(time.perf_counter() - t)
        for a in add:
            lab.sh("iptables", "-w", *[("-D" if x == "-A" else x) for x in a])
    docker_style_clear(lab)
    return statistics.median(samples) * 1000


# --- packet cost ----------------------------------------------------------------------

def ping_rtts(lab: Lab, count: int) -> list[float]:
    (ns1, _, _, _), (_, _, ip2, _) = lab.ctrs
    # busybox's ping (the image's own; iputils is not installed here); -A sends the
    # next echo as soon as the reply is in
    p = subprocess.run(["ip", "netns", "exec", ns1, "busybox", "ping", "-A", "-c", str(count),
                        ip2], capture_output=True, text=True, check=False)
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", p.stdout)]


ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5000))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(64)
    s.sendto(data, peer)
"""


def udp_rtts(lab: Lab, count: int) -> list[float]:
    """Request/response over UDP; the echo runs in a process of its own, so the two
    ends never wait for each other's interpreter lock."""
    (ns1, _, _, _), (ns2, _, ip2, _) = lab.ctrs
    echo = subprocess.Popen(["ip", "netns", "exec", ns2, sys.executable, "-c", ECHO, ip2],
                            stdout=subprocess.PIPE, text=True)
    cli = nsexec.run(ns1, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(1)
    out = []
    try:
        echo.stdout.readline()
        for _ in range(100):  # warm up: ARP, conntrack
            cli.sendto(b"x", (ip2, 5000))
            cli.recv(64)
        for _ in range(count):
            t = time.perf_counter()
            cli.sendto(b"x", (ip2, 5000))
            cli.recv(64)
            out.append((time.perf_counter() - t) * 1000)
    finally:
        cli.close()
        echo.kill()
        echo.wait()
    return out


def packet_costs(lab: Lab, rounds: int) -> dict[str, float]:
    nft = get_backend("nftables", netns=lab.host)
    none = (lambda: None, lambda: None)

    def fabric(links: int, ports: int, icc: bool):
        return (lambda: nft.apply(intent(lab, links, ports, icc=icc)), nft.clear)
    pings = {"no ruleset": none,
             "fabric nftables, no links or ports": fabric(1, 0, True),
             "fabric nftables, 1,000 links + 1,000 ports": fabric(1000, 1000, True)}
    udps = {"no ruleset": none,
            "fabric nftables, only this link": fabric(1, 0, False),
            "fabric nftables, 1,000 links + 1,000 ports": fabric(1000, 1000, False),
            "Docker-style iptables, 1,000 link rules": (
                lambda: (docker_style_setup(lab, 1000, 0), _append_pair(lab)),
                lambda: docker_style_clear(lab))}
    ping: dict[str, list] = {k: [] for k in pings}
    udp: dict[str, list] = {k: [] for k in udps}
    for _ in range(rounds):
        for name, (up, down) in pings.items():
            up()
            ping[name] += ping_rtts(lab, 1000)
            down()
        for name, (up, down) in udps.items():
            up()
            udp[name] += udp_rtts(lab, 2000)
            down()
    res = {f"ping RTT, icc=true, {k}": statistics.median(v) * 1000 for k, v in ping.items()}
    res.update({f"UDP RTT, linked pair, icc=false, {k}": statistics.median(v) * 1000
                for k, v in udp.items()})
    return res


def counters_ab(lab: Lab, rounds: int) -> dict[str, float]:
    """fabric's ruleset with and without its rules' counters, applied in turn in one lab
    (1,000 links and ports). The UDP round trip here jumps between regimes (about 10
    and about 80 µs, with what else the two cores run), so each round measures both
    layouts back to back and the figure that compares them is the median, over rounds,
    of the round's ratio of medians; the medians over all rounds are given beside it."""
    import dataclasses

    from fabric.firewall import nft, nftrender

    def apply(counters: bool, icc: bool) -> None:
        rs = nftrender.render(intent(lab, 1000, 1000, icc=icc))
        if not counters:
            rs = dataclasses.replace(rs, digest="", rules=[
                dataclasses.replace(r, stmts=tuple(x for x in r.stmts if x.text != "counter"))
                for r in rs.rules])
        nsexec.run(lab.host, lambda: nft._run(nft._ctx(), nft.full_batch(rs)))

    every: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    for i in range(rounds):
        for what, icc, measure in (("ping RTT, icc=true", True, lambda: ping_rtts(lab, 2000)),
                                   ("UDP RTT, linked pair, icc=false", False,
                                    lambda: udp_rtts(lab, 3000))):
            medians = {}
            for counters in ((False, True) if i % 2 == 0 else (True, False)):
                apply(counters, icc)
                got = measure()
                medians[counters] = statistics.median(got)
                every.setdefault(f"{what}, {'with' if counters else 'without'} counters",
                                 []).extend(got)
            ratios.setdefault(what, []).append(medians[True] / medians[False])
    get_backend("nftables", netns=lab.host).clear()
    out = {k: statistics.median(v) * 1000 for k, v in every.items()}
    out.update({f"{k}: ratio with / without, median of rounds": statistics.median(v)
                for k, v in ratios.items()})
    return out


def _append_pair(lab: Lab) -> None:
    """Docker's icc=false: the pair's ACCEPT after all the others, then DROP."""
    (_, _, ip1, _), (_, _, ip2, _) = lab.ctrs
    br = lab.bridge
    lab.sh("iptables-restore", "--noflush", input=(
        "*filter\n"
        f"-A DOCKERB -s {ip1}/32 -d {ip2}/32 -i {br} -o {br} -p udp -m udp --dport 5000 -j ACCEPT\n"
        f"-A DOCKERB -s {ip2}/32 -d {ip1}/32 -i {br} -o {br} -p udp -m udp --sport 5000 -j ACCEPT\n"
        f"-A DOCKERB -i {br} -o {br} -j DROP\nCOMMIT\n"))


# --- main -----------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="rounds per change measurement")
    ap.add_argument("--packet-rounds", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--counters", type=int, default=0, metavar="ROUNDS",
                    help="only compare the ruleset with and without its rules' counters")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, nftables)")
    lab = Lab()
    try:
        nsexec.run(lab.host, _sysctl, "net/ipv4/ip_forward", "1")
        if args.counters:
            for k, v in counters_ab(lab, args.counters).items():
                print(f"{k:75s} {v:8.3f}" if "ratio" in k else f"{k:75s} {v:8.2f} µs")
            return
        change: dict[str, dict[int, float]] = {}
        few = max(5, args.n // 3)  # the slow layouts
        for what in ("link", "port"):
            rows = {
                "fabric nftables apply (element delta)":
                    lambda n, w=what: time_fabric(lab, "nftables", n, args.n, w, False),
                "fabric nftables full replace":
                    lambda n, w=what: time_fabric(lab, "nftables", n, args.n, w, True),
                "fabric iptables backend apply":
                    lambda n, w=what: time_fabric(lab, "iptables", n, few, w, False),
                "Docker-style iptables -A":
                    lambda n, w=what: time_docker_style(lab, n, few, w),
            }
            for label, fn in rows.items():
                change[f"one more {what}: {label}"] = {n: fn(n) for n in (10, 1000)}
        packets = packet_costs(lab, args.packet_rounds)
    finally:
        lab.destroy()
    report(change, packets, args.markdown)


def _sysctl(key: str, value: str) -> None:
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def report(change: dict, packets: dict, markdown: bool) -> None:
    def base(k: str, which: str) -> float:
        kind = k.split(",")[0]
        return next(v for kk, v in packets.items() if kk.startswith(kind) and which in kk)
    if markdown:
        print("| change | 10 exist (ms) | 1,000 exist (ms) | 1,000 / 10 |")
        print("|---|---:|---:|---:|")
        for k, v in change.items():
            print(f"| {k} | {v[10]:.2f} | {v[1000]:.2f} | {v[1000] / v[10]:.2f}x |")
        print()
        print("| packet path | median RTT (µs) | vs no ruleset | vs fabric without links |")
        print("|---|---:|---:|---:|")
        for k, v in packets.items():
            fab = base(k, "fabric nftables, only" if k.startswith("UDP") else
                       "fabric nftables, no links")
            print(f"| {k} | {v:.1f} | {100 * (v / base(k, 'no ruleset') - 1):+.1f}% | "
                  f"{100 * (v / fab - 1):+.1f}% |")
        return
    for k, v in change.items():
        print(f"{k:60s} {v[10]:8.2f} ms  {v[1000]:8.2f} ms  x{v[1000] / v[10]:.2f}")
    for k, v in packets.items():
        print(f"{k:75s} {v:8.1f} µs")


if __name__ == "__main__":
    main()
