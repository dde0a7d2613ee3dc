"""raw -> resolved: a lab file's data, its shape already checked (shape.py), into a
`model.Lab`, checking what the values mean. Every problem is one `LabError` naming the
file, the line and the field; nothing here touches the kernel or a daemon.

Checks: names (hosts and containers share one namespace per lab), addresses inside
their segment's subnet and used once, route gateways on a NIC of their host, networks
and hosts that exist, slices inside their network and apart, pinned container
addresses inside their host's slice, links to containers on the same host, port specs,
impairments. Containers and expectations are resolved in workloads.py.
"""

import os
import re
from collections.abc import Iterable
from importlib.metadata import entry_points
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_interface
from typing import Any

from fabric.errors import InvalidArgument
from fabric.lab import (
    clusterstore,
    impair,
    model,
    remote_file,
    shape,
    slices,
    source,
    workloads,
)
from fabric.lab.errors import LabError, known
from fabric.lab.source import Path, Source

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}\Z")
NAME_RULE = ("lower-case letters, digits, '-' and '_', starting with a letter or digit, "
             "at most 32 characters")
IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\Z")
BUILTIN_NETWORKS = ("bridge", "host", "none", "default")


def load(path: str, name: str | None = None, drivers: Iterable[str] | None = None,
         origin: str | None = None) -> model.Lab:
    """Read, check and resolve a lab file; `name` overrides its `name:`. `drivers`: the
    network drivers there are (default: those installed, entry points `fabric.drivers`).
    `origin`: the file a copy was made from (paths in it are relative to that one's)."""
    src = source.read(path)
    shape.check(src)
    return Resolver(src, drivers, origin).lab(name)


def installed_drivers() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="fabric.drivers"))


def lab_name_of(path: str) -> str:
    """The name a lab file gives its lab (or its file name's stem), read leniently: for
    `lab down FILE`, which must work even when the file has become invalid."""
    src = source.read(path)
    data = src.data if isinstance(src.data, dict) else {}
    return str(data.get("name") or _stem(path))


def _stem(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


class Resolver:
    def __init__(self, src: Source, drivers: Iterable[str] | None = None,
                 origin: str | None = None):
        self.src = src
        self.base = os.path.dirname(os.path.abspath(origin or src.path))
        self.drivers = sorted(installed_drivers() if drivers is None else drivers)
        self.data: dict[str, Any] = src.data

    def err(self, where: Path, problem: str) -> LabError:
        return self.src.error(where, problem)

    def section(self, key: str) -> dict[str, Any]:
        return self.data.get(key) or {}

    def lab(self, name: str | None) -> model.Lab:
        lab_name = name or self.data.get("name") or _stem(self.src.path)
        if not NAME.match(lab_name):
            where: Path = () if name else ("name",)
            raise self.err(where, f"invalid lab name '{lab_name}': use {NAME_RULE}")
        segments = tuple(self.segment(n, v) for n, v in self.section("segments").items())
        seg_names = {s.name: s for s in segments}
        hosts = tuple(self.host(n, v, seg_names) for n, v in self.section("hosts").items())
        self.unique_addresses(hosts)
        networks = tuple(self.network(n, v, hosts) for n, v in self.section("networks").items())
        self.host_slices(hosts, networks)
        networks = tuple(slices.assign(self.src, n, hosts) for n in networks)
        lab = model.Lab(lab_name, self.src.path, self.src.sha256, segments, hosts, networks,
                        description=str(self.data.get("description") or ""),
                        cluster=clusterstore.resolve(self.src, self.section("cluster"), hosts))
        lab = workloads.resolve(self.src, lab, self.section("containers"),
                                self.data.get("expect") or [])
        remote_file.check(self.src, lab)
        return lab

    # --- segments and hosts ------------------------------------------------------

    def segment(self, name: str, raw: dict | None) -> model.Segment:
        where: Path = ("segments", name)
        self.name(name, where, "segment")
        raw = raw or {}
        subnet = self.subnet(raw["subnet"], where + ("subnet",)) if "subnet" in raw else None
        return model.Segment(name, subnet, self.impairment(raw, where))

    def name(self, name: str, where: Path, what: str) -> None:
        if not NAME.match(name):
            raise self.err(where, f"invalid {what} name '{name}': use {NAME_RULE}")

    def subnet(self, text: str, where: Path) -> IPv4Network:
        if "/" not in text:
            raise self.err(where, f"'{text}' needs a prefix length (e.g. {text}/24)")
        try:
            return IPv4Network(text)
        except ValueError:
            pass
        try:
            loose = IPv4Network(text, strict=False)
        except ValueError:
            raise self.err(where, f"'{text}' is not an IPv4 subnet (e.g. 10.0.0.0/24)") from None
        raise self.err(where, f"'{text}' has host bits set; did you mean '{loose}'?")

    def impairment(self, raw: dict, where: Path) -> impair.Impairment:
        given = {k: raw[k] for k in impair.KEYS if k in raw}
        try:
            imp = impair.parse(given)
        except InvalidArgument as e:
            key = next((k for k in impair.KEYS if k in e.message), None)
            raise self.err(where + ((key,) if key else ()), e.message) from None
        if imp.delay_us or imp.jitter_us:
            from fabric.net import tc
            if not tc.netem_supported():
                raise self.err(where + ("delay" if "delay" in raw else "jitter",),
                               impair.NO_NETEM)
        return imp

    def host(self, name: str, raw: dict | None, segments: dict[str, model.Segment]
             ) -> model.Host:
        where: Path = ("hosts", name)
        self.name(name, where, "host")
        raw = raw or {}
        nics = tuple(self.nic(str(nic.get("name") or f"eth{i}"), nic, where + ("nics", i),
                              segments) for i, nic in enumerate(raw.get("nics") or []))
        self.unique_names(nics, where)
        remote = None
        if "remote" in raw:
            remote = remote_file.remote(self.src, raw["remote"], where + ("remote",), self.base)
        network, api = remote_file.split_settings(self.src, raw.get("settings") or {},
                                                  where + ("settings",), self.base, nics,
                                                  remote is not None)
        settings = self.settings(network, where + ("settings",))
        routes = tuple(self.route(r, where + ("routes", i), nics, name)
                       for i, r in enumerate(raw.get("routes") or []))
        pinned = tuple((net, self.subnet(text, where + ("slices", net)))
                       for net, text in (raw.get("slices") or {}).items())
        rules = tuple(model.Rule(action=str(r["action"]).lower(), src=r.get("src"),
                                 dst=r.get("dst"), proto=r.get("proto"),
                                 dport=r.get("dport"), comment=r.get("comment", ""))
                      for r in raw.get("firewall") or [])
        for i, rule in enumerate(rules):
            if rule.dport is not None and rule.proto not in ("tcp", "udp"):
                raise self.err(where + ("firewall", i, "dport"), "a port needs proto tcp or udp")
        return model.Host(name, nics, settings, routes, pinned, rules, api, remote)

    def unique_names(self, nics: tuple[model.Nic, ...], where: Path) -> None:
        for i, nic in enumerate(nics):
            if not IFNAME.match(nic.ifname):
                raise self.err(where + ("nics", i, "name"), f"invalid interface name "
                               f"'{nic.ifname}' (at most 15 letters, digits, '-', '_' and '.')")
            if nic.ifname in [n.ifname for n in nics[:i]]:
                raise self.err(where + ("nics", i, "name"), f"host has two NICs named "
                               f"'{nic.ifname}'")

    def nic(self, ifname: str, raw: dict, where: Path, segments: dict[str, model.Segment]
            ) -> model.Nic:
        seg = segments.get(raw["segment"])
        if seg is None:
            raise self.err(where + ("segment",), f"no segment '{raw['segment']}'"
                           f"{known(segments)}")
        address = None
        if "address" in raw:
            address = self.address(str(raw["address"]), where + ("address",), seg)
        bridge = raw.get("bridge")
        if bridge is not None and not IFNAME.match(bridge):
            raise self.err(where + ("bridge",), f"invalid interface name '{bridge}' "
                           "(at most 15 letters, digits, '-', '_' and '.')")
        return model.Nic(ifname, seg.name, address, bridge, self.impairment(raw, where),
                         raw.get("direction", "both"))

    def address(self, text: str, where: Path, seg: model.Segment) -> IPv4Interface:
        if "/" not in text:
            if seg.subnet is None:
                raise self.err(where, f"'{text}' needs a prefix length (e.g. {text}/24), or "
                               f"give segment '{seg.name}' a subnet")
            text = f"{text}/{seg.subnet.prefixlen}"
        try:
            addr = ip_interface(text)
        except ValueError:
            raise self.err(where, f"'{text}' is not an IPv4 address with a prefix "
                           "(e.g. 192.168.18.128/24)") from None
        if not isinstance(addr, IPv4Interface):
            raise self.err(where, f"'{text}': only IPv4 addresses are supported")
        if seg.subnet is not None:
            if addr.ip not in seg.subnet:
                raise self.err(where, f"{addr.ip} is outside segment '{seg.name}' "
                               f"({seg.subnet})")
            if addr.network != seg.subnet:
                raise self.err(where, f"{addr} does not match segment '{seg.name}''s "
                               f"subnet {seg.subnet}")
        if addr.network.prefixlen < 31 and addr.ip in (addr.network.network_address,
                                                       addr.network.broadcast_address):
            which = "network" if addr.ip == addr.network.network_address else "broadcast"
            raise self.err(where, f"{addr.ip} is the subnet's own {which} address")
        return addr

    def settings(self, raw: dict, where: Path) -> tuple[tuple[str, Any], ...]:
        from fabric.host.settings import check
        for key, value in raw.items():
            try:
                check({key: value})
            except InvalidArgument as e:
                raise self.err(where + (key,), e.message) from None
        for key in ("bip",):
            if key in raw:
                try:
                    IPv4Interface(str(raw[key]))
                except ValueError:
                    raise self.err(where + (key,), f"'{raw[key]}' is not an address with a "
                                   "prefix (e.g. 172.17.42.1/16)") from None
        if "fixed-cidr" in raw:
            self.subnet(str(raw["fixed-cidr"]), where + ("fixed-cidr",))
        return tuple(raw.items())

    def route(self, raw: dict, where: Path, nics: tuple[model.Nic, ...], host: str
              ) -> model.Route:
        to = str(raw["to"])
        if to != "default":
            to = str(self.subnet(to, where + ("to",)))
        try:
            via = IPv4Address(str(raw["via"]))
        except ValueError:
            raise self.err(where + ("via",), f"'{raw['via']}' is not an IPv4 address") from None
        on = [n for n in nics if n.address is not None]
        if any(n.address is not None and n.address.ip == via for n in on):
            raise self.err(where + ("via",), f"{via} is host '{host}''s own address")
        if not any(n.address is not None and via in n.address.network for n in on):
            have = ", ".join(f"{n.ifname} {n.address}" for n in on) or "none"
            raise self.err(where + ("via",), f"gateway {via} is not reachable from a NIC of "
                           f"host '{host}' (its NICs: {have})")
        return model.Route(to, via)

    def unique_addresses(self, hosts: tuple[model.Host, ...]) -> None:
        seen: dict[IPv4Address, str] = {}
        for h in hosts:
            for i, nic in enumerate(h.nics):
                if nic.address is None:
                    continue
                other = seen.get(nic.address.ip)
                if other is not None:
                    raise self.err(("hosts", h.name, "nics", i, "address"),
                                   f"{nic.address.ip} is already host '{other}''s address")
                seen[nic.address.ip] = h.name

    # --- networks ------------------------------------------------------------------

    def network(self, name: str, raw: dict | None, hosts: tuple[model.Host, ...]
                ) -> model.Network:
        where: Path = ("networks", name)
        if name in BUILTIN_NETWORKS:
            raise self.err(where, f"'{name}' is a built-in network; give yours another name")
        if not IFNAME.match(name):
            raise self.err(where, f"invalid network name '{name}'")
        raw = raw or {}
        driver = str(raw.get("driver") or "bridge")
        if driver not in self.drivers:
            raise self.err(where + ("driver",), f"no network driver '{driver}' is installed "
                           f"(installed: {', '.join(self.drivers)})")
        subnet = self.subnet(raw["subnet"], where + ("subnet",)) if "subnet" in raw else None
        gateway = None
        if "gateway" in raw:
            try:
                gateway = IPv4Address(raw["gateway"])
            except ValueError:
                raise self.err(where + ("gateway",), f"'{raw['gateway']}' is not an IPv4 "
                               "address") from None
            if subnet is not None and gateway not in subnet:
                raise self.err(where + ("gateway",), f"{gateway} is outside {subnet}")
        ip_range = None
        if "ip-range" in raw:
            ip_range = self.subnet(raw["ip-range"], where + ("ip-range",))
            if subnet is None or not ip_range.subnet_of(subnet):
                raise self.err(where + ("ip-range",), f"{ip_range} is not inside the "
                               f"network's subnet ({subnet or 'none given'})")
        options = tuple((str(k), _option_text(v)) for k, v in (raw.get("options") or {}).items())
        names = [h.name for h in hosts]
        members = raw.get("hosts")
        if members is None:
            members = names
        for i, h in enumerate(members):
            if h not in names:
                raise self.err(where + ("hosts", i), f"no host '{h}'{known(names)}")
        ordered = tuple(n for n in names if n in members)
        return model.Network(name, driver, subnet, gateway, ip_range, options, ordered)

    def host_slices(self, hosts: tuple[model.Host, ...], networks: tuple[model.Network, ...]
                    ) -> None:
        by_name = {n.name: n for n in networks}
        for h in hosts:
            for net_name, piece in h.slices:
                where: Path = ("hosts", h.name, "slices", net_name)
                net = by_name.get(net_name)
                if net is None:
                    raise self.err(where, f"no network '{net_name}'{known(by_name)}")
                if h.name not in net.hosts:
                    raise self.err(where, f"network '{net_name}' is not on host '{h.name}'")
                if net.subnet is None or not piece.subnet_of(net.subnet):
                    raise self.err(where, f"slice {piece} is outside network '{net_name}' "
                                   f"({net.subnet or 'no subnet given'})")


def _option_text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)

