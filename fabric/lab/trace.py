"""`fabric lab trace NAME FROM TO`: one probe followed through every host of a lab.

Names are a lab's own (containers, `NAME@NET`, hosts, `HOST:IF`, as expectations
write them). Every host is armed, whether or not the path is expected to cross it:
the kernel says where the packet went. The probe is sent by the daemon of the host
FROM lives on, so a host on another machine is traced the same way.
"""

from ipaddress import IPv4Address

from fabric.errors import NotFound
from fabric.lab import live, model
from fabric.probe import wire
from fabric.trace.run import Plan, Tracer, Want
from fabric.trace.story import Ends


def names(lab: model.Lab, now: live.Live) -> tuple[dict[str, str], dict[str, str]]:
    """(address -> name, address -> its subnet) for every running container and every
    host NIC of the lab."""
    by_ip: dict[str, str] = {}
    subnets: dict[str, str] = {}
    for h in lab.hosts:
        for nic in h.nics:
            if nic.address is not None:
                by_ip[str(nic.address.ip)] = h.name
    for c in lab.containers:
        addrs = now.addresses(c.name).values()
        for addr in addrs:
            by_ip[addr] = c.name
        for net in now.local_subnets(c.name):
            subnets.update({a: str(net) for a in addrs if IPv4Address(a) in net})
    return by_ip, subnets


def plan(lab: model.Lab, src: str, dst: str, want: Want) -> Plan:
    now = live.gather(lab)
    base = src.partition("@")[0].partition(":")[0]
    c = lab.container(base)
    if c is not None:
        home = c.host
        netns = ((now.docs.get(base) or {}).get("NetworkSettings") or {}).get("SandboxKey")
        now.netns(base)      # refuses a container that is not running
        netns = netns or wire.OWN
    elif lab.host(base) is not None:
        home, netns = base, wire.OWN
    else:
        raise NotFound(f"lab {lab.name} has no host or container '{base}'")
    address = now.address_of(dst, base)
    target = dst.partition("@")[0].partition(":")[0]
    there = lab.container(target)
    dst_host = there.host if there is not None else (target if lab.host(target) else None)
    hosts = tuple(Tracer(h.name, live.client(lab.name, h.name)) for h in lab.hosts)
    sender = next(t for t in hosts if t.label == home)
    by_ip, subnets = names(lab, now)
    return Plan(hosts=hosts, sender=sender, src_netns=netns, probe=want.probe(address),
                names=by_ip, subnets=subnets,
                ends=Ends(src, dst if dst == address else f"{dst} ({address})", home,
                          dst_host))
