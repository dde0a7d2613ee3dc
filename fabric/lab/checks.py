"""Expectations (and `lab ping`'s all pairs) into the runner's checks, aimed at what
runs: the source's namespace (a container's SandboxKey, a host's namespace), the
target's address, the sink's namespace for `bytes`, the namespaces of `via`."""

from ipaddress import IPv4Address

from fabric.lab import model
from fabric.lab.expect import Check
from fabric.lab.live import Live
from fabric.probe import Probe


def from_expectations(live: Live, expectations: tuple[model.Expectation, ...]) -> list[Check]:
    return [_check(live, e) for e in expectations]


def _check(live: Live, e: model.Expectation) -> Check:
    dst = live.address_of(e.dst, e.src)
    sink = None
    if e.nbytes is not None:
        target = e.dst.partition("@")[0].partition(":")[0]
        sink = live.netns(target)
    probe = Probe(proto=e.proto, dst=dst, port=e.port, timeout=e.timeout, nbytes=e.nbytes,
                  sink_netns=sink, status=e.status, path=e.path,
                  via=tuple(live.via(v) for v in e.via))
    return Check(src=e.src, dst=e.dst, src_netns=live.netns(e.src), probe=probe,
                 expect=e.expect, within=e.within, via=e.via, sender=live.sender(e.src))


def all_pairs(live: Live, within: float = 5.0) -> list[Check]:
    """Every container pinging every other (Mininet's pingall), each at the address a
    check `to: NAME` would use. A pair is left out when that address lies in one of the
    source's own subnets without the two sharing the network: two hosts' default
    bridges have the same subnet, and such a ping would stay on the source's host."""
    running = [c for c in live.lab.containers if live.state(c.name) == "running"]
    out = []
    for a in running:
        own = live.local_subnets(a.name)
        for b in running:
            if a is b:
                continue
            dst = live.address_of(b.name, a.name)
            shares = any(live.shared(a.name, b, n) for n in b.network_names)
            if not shares and any(IPv4Address(dst) in net for net in own):
                continue
            probe = Probe(proto="icmp", dst=dst)
            out.append(Check(src=a.name, dst=b.name, src_netns=live.netns(a.name),
                             probe=probe, expect="ok", within=within,
                             sender=live.sender(a.name)))
    return out
