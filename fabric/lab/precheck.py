"""`lab up`'s look before it makes anything: what `fabric doctor` would find once the
lab is up, where it can be known from the file and the machine already.

- a network given an MTU its tunnel cannot carry over the lab's NICs (veths of 1500
  bytes): an MTU black hole between its hosts;
- a network's subnet overlapping a host's NIC or a route the file gives it (on that
  host the network would lose those addresses, or not be made at all);
- new namespaces on this machine starting with strict rp_filter (the machine's
  defaults, which namespace hosts inherit): their underlays would drop asymmetric
  traffic;
- every finding of `fabric doctor` on a host on another machine (its daemon is there
  already).

Each is one warning line; `lab up --strict` refuses instead, before anything is made.
"""

import ipaddress
import secrets
from concurrent.futures import ThreadPoolExecutor

from fabric.client.http import ApiError, DaemonUnavailable
from fabric.errors import Conflict
from fabric.lab import model, remote

LAB_NIC_MTU = 1500          # a lab NIC is a veth pair, made at the kernel's default
OVERHEAD = {"vxlan": 50, "gre": 42}     # Open vSwitch's GRE carries a key
# the drivers that tunnel: their tunnel kind from the network's options
TUNNEL = {"ovs": lambda opts: opts.get("tunnel", "gre"), "mesh": lambda opts: "vxlan"}
MTU_OPTIONS = ("mtu", "com.docker.network.driver.mtu")


def warnings(lab: model.Lab) -> list[str]:
    out = _mtu(lab) + _overlap(lab)
    if any(h.remote is None for h in lab.hosts):
        out += _rp_filter()
    return out + _remote(lab)


def run(lab: model.Lab, say, strict: bool) -> None:
    found = warnings(lab)
    for i, line in enumerate(found, 1):
        say(f"warning {i}", line)
    if strict and found:
        more = f" (and {len(found) - 1} more above)" if len(found) > 1 else ""
        raise Conflict(f"lab {lab.name} not made (--strict): {found[0]}{more}")


def _mtu(lab: model.Lab) -> list[str]:
    out = []
    for n in lab.networks:
        kind = TUNNEL[n.driver](dict(n.options)) if n.driver in TUNNEL else None
        mtu = next((n.option(k) for k in MTU_OPTIONS if n.option(k)), None)
        if kind not in OVERHEAD or mtu is None or not mtu.isdigit():
            continue
        needs = int(mtu) + OVERHEAD[kind]
        if needs > LAB_NIC_MTU:
            out.append(f"network {n.name}: MTU {mtu} + {OVERHEAD[kind]} for {kind.upper()} = "
                       f"{needs} bytes between its hosts, whose NICs carry {LAB_NIC_MTU}: "
                       f"packets over {LAB_NIC_MTU - OVERHEAD[kind]} bytes will vanish "
                       f"(give it mtu: {LAB_NIC_MTU - OVERHEAD[kind]})")
    return out


def _overlap(lab: model.Lab) -> list[str]:
    out = []
    for n in lab.networks:
        if n.subnet is None or n.option("uplink"):
            continue    # an uplink network sits on its NIC's own LAN on purpose
        for h in lab.hosts:
            if h.name not in n.hosts and n.hosts:
                continue
            for nic in h.nics:
                if nic.address is not None and nic.address.network.overlaps(n.subnet):
                    out.append(f"network {n.name}'s {n.subnet} overlaps host {h.name}'s "
                               f"{nic.ifname} {nic.address}: the host would answer for its "
                               "containers' addresses there")
            for r in h.routes:
                if r.to != "default" and ipaddress.IPv4Network(r.to).overlaps(n.subnet):
                    out.append(f"network {n.name}'s {n.subnet} overlaps host {h.name}'s route "
                               f"to {r.to} via {r.via}: its daemon refuses the network, or "
                               "the route takes its containers' addresses away")
    return out


def _rp_filter() -> list[str]:
    """What a namespace made now starts with (a throwaway one, gone right after)."""
    from fabric.net import netns, sysctl
    ns = f"fabd-{secrets.token_hex(4)}"
    netns.create(ns)
    try:
        strict = [k for k in ("all", "default")
                  if sysctl.get(f"net/ipv4/conf/{k}/rp_filter", ns) == "1"]
    finally:
        netns.remove(ns)
    if not strict:
        return []
    return [f"new namespaces here start with net.ipv4.conf.{strict[0]}.rp_filter=1 (strict): "
            "the hosts' underlays will drop packets that arrive where the route back does not "
            "lead; set it to 2 on this machine first"]


def _remote(lab: model.Lab) -> list[str]:
    far = [h for h in lab.hosts if h.remote is not None]
    if not far:
        return []

    def ask(h: model.Host) -> list[str]:
        from fabric.doctor.findings import line
        assert h.remote is not None
        try:
            doc = remote.client(h.remote.url, h.remote.cert_path).get("/fabric/doctor")
        except (ApiError, DaemonUnavailable, OSError):
            return []   # machines.check has said what is wrong with reaching it
        return [line(f, f"host {h.name}: ") for f in doc["Findings"]]

    with ThreadPoolExecutor(max_workers=min(8, len(far)), thread_name_prefix="precheck") as ex:
        return [w for found in ex.map(ask, far) for w in found]
