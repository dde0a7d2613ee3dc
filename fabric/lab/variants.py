"""One lab file with one of its networks carried by another driver: what `fabric lab
compare` brings up once per driver.

A variant is the file's data with network NET rewritten for the driver, resolved as
`lab up` resolves a file (so a driver that cannot carry the lab is refused, in one
line naming the file, the line and the field, before anything is made), and the
rewritten file's text, which is what the variant's lab keeps as its copy. What each
driver is given:

- bridge, with `uplink`: the network becomes the hosts' underlay segment itself. Its
  subnet is the segment's; `uplink` names the NIC each member has there (one name, one
  segment for all); the gateway and each member's slice (pinned, as --fixed-cidr) are
  taken from the segment's addresses that no NIC, route or lab etcd holds. A container
  pinning an address of the old subnet, or an expectation or rule aiming at one, cannot
  follow it there: the driver is refused, naming it.
- routing, ovs: the subnet as written, a slice per member `host-prefix` long (as
  written, else 24, or as long as the subnet needs for its members); pinned slices kept.
- mesh: the subnet as written, one address pool: slices pinned for NET are dropped.

A routed or tunnelled network needs a subnet of its own: one over the hosts' own LAN
(as an uplink network has) is refused for those drivers. Options that mean the same
to every driver (icc, masquerade) are kept, the others (an ovs tunnel or VNI, a mesh
VNI, an MTU chosen for one encapsulation, the uplink) are dropped, and every change is
said in words. A network already on the driver (bridge: with an uplink) is kept as
written.
"""

import copy
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_network
from typing import Any

import yaml

from fabric.errors import InvalidArgument
from fabric.lab import model, resolve, shape, slices
from fabric.lab.errors import known
from fabric.lab.source import Source

DRIVERS = ("bridge", "routing", "mesh", "ovs")
KEPT_OPTIONS = ("icc", "ip_masquerade", "com.docker.network.bridge.enable_icc",
                "com.docker.network.bridge.enable_ip_masquerade")
UPLINK_SLICE = 27           # an uplink member's slice of the segment, when it has room
LAB_NAME_MAX = 32


class Unfit(InvalidArgument):
    """A driver cannot carry the lab, or is not there; the message is one line."""


@dataclass(frozen=True)
class Variant:
    driver: str
    lab: model.Lab              # resolved, named for the driver
    text: str                   # the rewritten file
    rewritten: str              # what was changed, in words ("as written" when nothing)


def lab_name(base: str, driver: str) -> str:
    """`<base>-<driver>`, shortened (with a hash of the whole) to fit a lab name."""
    import hashlib
    name = f"{base}-{driver}"
    if len(name) <= LAB_NAME_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:4]
    keep = LAB_NAME_MAX - len(driver) - 6
    return f"{base[:keep].rstrip('-_')}-{digest}-{driver}"


def make(src: Source, base: model.Lab, net: str, driver: str, name: str) -> Variant:
    """The variant of `base` (resolved from `src`) with `net` on `driver`."""
    data = copy.deepcopy(src.data)
    old = base.network(net)
    assert old is not None
    if driver == old.driver and (driver != "bridge" or old.option("uplink")):
        changes = ["as written"]
    else:
        raw = data["networks"][net] = {}
        if old.hosts != tuple(h.name for h in base.hosts):
            raw["hosts"] = list(old.hosts)
        changes = [f"driver {old.driver} -> {driver}"]
        if driver == "bridge":
            changes += _uplink(data, raw, base, old)
        else:
            changes += _own_subnet(data, raw, base, old, driver)
        changes += _options(raw, old)
        gone = [f"{k} {v}" for k, v in (("gateway", old.gateway), ("ip-range", old.ip_range))
                if v is not None and k not in raw]
        if gone:
            changes.append(f"dropped {', '.join(gone)}")
    text = (f"# `fabric lab compare`: {src.path} with network {net} on the {driver} driver\n"
            + yaml.safe_dump(data, sort_keys=False))
    vsrc = Source(src.path, text, data, src.lines)   # errors name the file as written
    try:
        shape.check(vsrc)
        lab = resolve.Resolver(vsrc).lab(name)
    except InvalidArgument as e:
        raise Unfit(f"{driver} cannot carry lab {base.name}: {e.message}") from None
    return Variant(driver, lab, text, f"{net}: {', '.join(changes)}")


def _options(raw: dict, old: model.Network) -> list[str]:
    kept = {k: v for k, v in old.options if k in KEPT_OPTIONS}
    dropped = [f"{k}={v}" for k, v in old.options if k not in KEPT_OPTIONS]
    options = {**raw.get("options", {}), **kept}
    if options:
        raw["options"] = options
    said = [f"{k}={v}" for k, v in options.items() if k not in kept]
    out = [f"options {' '.join(said)}"] if said else []
    if dropped:
        out.append(f"dropped {' '.join(dropped)}")
    return out


def _unfit(driver: str, lab: model.Lab, why: str) -> Unfit:
    return Unfit(f"{driver} cannot carry lab {lab.name}: {why}")


# --- routing, ovs, mesh: the subnet as written ---------------------------------------


def _own_subnet(data: dict, raw: dict, lab: model.Lab, old: model.Network,
                driver: str) -> list[str]:
    if old.subnet is None:
        raise _unfit(driver, lab, f"network {old.name} has no subnet: give it one "
                     "(the driver slices it among the hosts or pools it)")
    for h in (lab.host(n) for n in old.hosts):
        assert h is not None
        nic = next((n for n in h.nics if n.address is not None
                    and n.address.network.overlaps(old.subnet)), None)
        if nic is not None:
            raise _unfit(driver, lab, f"network {old.name}'s {old.subnet} is host {h.name}'s "
                         f"own LAN ({nic.ifname} {nic.address}): a {driver} network needs a "
                         "subnet of its own")
    raw["driver"] = driver
    raw["subnet"] = str(old.subnet)
    out = []
    if driver == "mesh":
        pinned = _drop_slices(data, old.name)
        if pinned:
            out.append(f"slices pinned on {', '.join(pinned)} dropped (one address pool)")
        return out
    prefix = (old.option("host-prefix") if slices.sliced(old) else None) or \
        str(_host_prefix(old.subnet, len(old.hosts)))
    raw["options"] = {"host-prefix": prefix}
    return out


def _host_prefix(subnet: IPv4Network, members: int) -> int:
    """24, or longer when the subnet has no room for a /24 per member."""
    need = subnet.prefixlen + max(1, members - 1).bit_length()
    return min(30, max(slices.DEFAULT_HOST_PREFIX, need))


def _drop_slices(data: dict, net: str) -> list[str]:
    dropped = []
    for name, host in (data.get("hosts") or {}).items():
        pinned = (host or {}).get("slices") or {}
        if net in pinned:
            del pinned[net]
            dropped.append(name)
            if not pinned:
                del host["slices"]
    return dropped


# --- bridge with an uplink: the hosts' segment itself ----------------------------------


def _uplink(data: dict, raw: dict, lab: model.Lab, old: model.Network) -> list[str]:
    nics: dict[str, model.Nic] = {}
    for name in old.hosts:
        h = lab.host(name)
        assert h is not None
        nic = next((n for n in h.nics if n.address is not None), None)
        if nic is None:
            raise _unfit("bridge", lab, f"host {name} has no NIC with an address to be "
                         "the uplink")
        if nic.bridge:
            raise _unfit("bridge", lab, f"host {name}'s {nic.ifname} is enslaved to "
                         f"{nic.bridge} already")
        nics[name] = nic
    on = {f"{n.segment} ({h})" for h, n in nics.items()}
    if len({n.segment for n in nics.values()}) > 1:
        raise _unfit("bridge", lab, f"an uplink joins hosts on one segment; network "
                     f"{old.name}'s hosts are on {', '.join(sorted(on))}")
    if len({n.ifname for n in nics.values()}) > 1:
        which = ", ".join(f"{n.ifname} on {h}" for h, n in nics.items())
        raise _unfit("bridge", lab, f"the uplink option names one NIC; the hosts' NICs on "
                     f"the segment are {which}")
    first = next(iter(nics.values()))
    assert first.address is not None
    subnet = first.address.network
    if old.subnet is not None and old.subnet != subnet:
        _no_old_addresses(lab, old, subnet)
    used = _segment_addresses(lab, first.segment)
    gateway = old.gateway
    if gateway is None or gateway not in subnet or gateway in used:
        gateway = next((a for a in subnet.hosts() if a not in used), None)
    if gateway is None:
        raise _unfit("bridge", lab, f"segment {first.segment} ({subnet}) has no free "
                     "address for the network's gateway")
    used.add(gateway)
    prefix = max(UPLINK_SLICE, subnet.prefixlen + len(nics).bit_length())
    free = [b for b in subnet.subnets(new_prefix=min(prefix, 30))
            if not any(a in b for a in used)]
    if len(free) < len(nics):
        raise _unfit("bridge", lab, f"segment {first.segment} ({subnet}) has no room for a "
                     f"slice per host beside its hosts' addresses")
    for name, piece in zip(nics, free):
        host = data["hosts"][name] = data["hosts"].get(name) or {}
        host.setdefault("slices", {})[old.name] = str(piece)
    raw.update({"driver": "bridge", "subnet": str(subnet), "gateway": str(gateway),
                "options": {"uplink": first.ifname}})
    return [f"subnet {old.subnet or 'none'} -> {subnet} (segment {first.segment})",
            f"gateway {gateway}",
            "slices " + ", ".join(f"{h} {p}" for h, p in zip(nics, free))]


def _segment_addresses(lab: model.Lab, segment: str) -> set[IPv4Address]:
    used = {n.address.ip for h in lab.hosts for n in h.nics
            if n.segment == segment and n.address is not None}
    used |= {r.via for h in lab.hosts for r in h.routes}
    if lab.cluster.address is not None:
        used.add(lab.cluster.address.ip)
    return used


def _no_old_addresses(lab: model.Lab, old: model.Network, new: IPv4Network) -> None:
    """Nothing may name an address of the network's old subnet: it moves to `new`."""
    assert old.subnet is not None
    for c in lab.containers:
        for a in c.networks:
            if a.network == old.name and a.ip is not None:
                raise _unfit("bridge", lab, f"the uplink puts network {old.name} on {new}, "
                             f"but container {c.name} pins {a.ip} of {old.subnet} on it")
    aims: list[tuple[str, Any]] = [(f"expectation {e.index + 1}", e.dst) for e in lab.expect]
    aims += [(f"a firewall rule of host {h.name}", end) for h in lab.hosts
             for r in h.firewall for end in (r.src, r.dst)]
    for what, ref in aims:
        try:
            hit = ip_network(str(ref), strict=False).overlaps(old.subnet)
        except ValueError:
            continue      # a name, not an address
        if hit:
            raise _unfit("bridge", lab, f"the uplink puts network {old.name} on {new}, but "
                         f"{what} aims at {ref} in {old.subnet}")


def network_of(src: Source, lab: model.Lab, net: str) -> model.Network:
    found = lab.network(net)
    if found is None:
        if not lab.networks:
            raise src.error((), f"no network '{net}': the lab has no `networks:` of its "
                            "own, and compare carries one of them by each driver")
        raise src.error(("networks",), f"no network '{net}'"
                        f"{known(n.name for n in lab.networks)}")
    return found
