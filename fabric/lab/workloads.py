"""raw -> resolved, second half: containers, expectations and the references in hosts'
firewall rules, once hosts and networks are known (resolve.py)."""

import re
import shlex
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from fabric.errors import InvalidArgument
from fabric.lab import builds, healthchecks, model, slices
from fabric.lab.errors import known
from fabric.lab.source import Path, Source

CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\Z", re.I)
SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
              "gb": 10**9, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20,
              "gi": 2**30, "gib": 2**30}
DEFAULT_PORTS = {"http": 80}


def resolve(src: Source, lab: model.Lab, raw_containers: dict[str, Any], raw_expect: list
            ) -> model.Lab:
    w = _Workloads(src, lab)
    containers = [w.container(n, v or {}) for n, v in raw_containers.items()]
    lab = replace(lab, containers=tuple(w.ordered(containers)))
    w.lab = lab
    w.unique_ips()
    w.links()
    w.rules()
    expect = tuple(w.expectation(i, e) for i, e in enumerate(raw_expect))
    return replace(lab, expect=expect)


class _Workloads:
    def __init__(self, src: Source, lab: model.Lab):
        self.src, self.lab = src, lab

    def err(self, where: Path, problem: str):
        return self.src.error(where, problem)

    # --- containers ---------------------------------------------------------------

    def container(self, name: str, raw: dict) -> model.Container:
        where: Path = ("containers", name)
        if not CONTAINER_NAME.match(name):
            raise self.err(where, f"invalid container name '{name}': use letters, digits, "
                           "'_', '.' and '-'")
        if self.lab.host(name) is not None:
            raise self.err(where, f"'{name}' is also a host: hosts and containers share one "
                           "namespace")
        host = raw.get("host")
        if host is None:
            if len(self.lab.hosts) != 1:
                raise self.err(where, "missing key 'host' (the lab has several hosts)")
            host = self.lab.hosts[0].name
        elif self.lab.host(host) is None:
            raise self.err(where + ("host",), f"no host '{host}'"
                           f"{known(h.name for h in self.lab.hosts)}")
        build = builds.resolve(self.src, raw.get("build"), where + ("build",))
        image = raw.get("image") or (builds.default_tag(self.src, self.lab.name, name,
                                                        where + ("build",))
                                     if build else model.DEFAULT_IMAGE)
        hc = healthchecks.resolve(self.src, raw.get("healthcheck"), where + ("healthcheck",))
        return model.Container(
            name=name, host=host, image=image, build=build, healthcheck=hc,
            wait=healthchecks.wait(self.src, raw, hc, where),
            command=self.words(raw.get("command"), where + ("command",)),
            entrypoint=self.words(raw.get("entrypoint"), where + ("entrypoint",)),
            env=self.env(raw.get("env"), where + ("env",)),
            links=tuple(raw.get("links") or ()),
            ports=self.ports(raw.get("ports") or [], where + ("ports",)),
            expose=tuple(str(p) for p in raw.get("expose") or ()),
            networks=self.attachments(raw.get("networks"), where + ("networks",), host),
            hostname=raw.get("hostname"), cap_add=tuple(raw.get("cap_add") or ()))

    def words(self, value: str | list | None, where: Path) -> tuple[str, ...] | None:
        """A command as a shell splits words (as compose does); a list as it is."""
        if value is None:
            return None
        if isinstance(value, list):
            return tuple(value)
        try:
            return tuple(shlex.split(value))
        except ValueError as e:
            raise self.err(where, f"cannot split {value!r} into words: {e}") from None

    def env(self, value: dict | list | None, where: Path) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, dict):
            return tuple(f"{k}={_text(v)}" for k, v in value.items())
        for i, item in enumerate(value):
            if "=" not in item:
                raise self.err(where + (i,), f"'{item}' is not KEY=VALUE")
        return tuple(value)

    def ports(self, specs: list, where: Path) -> tuple[str, ...]:
        from fabric.ports import to_bindings
        out = tuple(str(p) for p in specs)
        for i, spec in enumerate(out):
            try:
                to_bindings([spec])
            except InvalidArgument as e:
                raise self.err(where + (i,), e.message) from None
        return out

    def attachments(self, raw: list | dict | None, where: Path, host: str
                    ) -> tuple[model.Attachment, ...]:
        if not raw:
            return ()
        items = [(n, {}) for n in raw] if isinstance(raw, list) else \
            [(n, v or {}) for n, v in raw.items()]
        out = []
        for i, (name, cfg) in enumerate(items):
            at: Path = where + ((i,) if isinstance(raw, list) else (name,))
            out.append(self.attachment(name, cfg, at, host))
        return tuple(out)

    def attachment(self, name: str, cfg: dict, where: Path, host: str) -> model.Attachment:
        ip = None
        if name == model.DEFAULT_NETWORK:
            if cfg:
                raise self.err(where, "addresses and aliases need a network of the lab's own "
                               "(the default bridge takes none, as in Docker)")
            return model.Attachment(name)
        net = self.lab.network(name)
        if net is None:
            names = [model.DEFAULT_NETWORK] + [n.name for n in self.lab.networks]
            raise self.err(where, f"no network '{name}'{known(names)}")
        if host not in net.hosts:
            raise self.err(where, f"network '{name}' is not on host '{host}' (its hosts: "
                           f"{', '.join(net.hosts)})")
        if "ip" in cfg:
            try:
                ip = IPv4Address(cfg["ip"])
            except ValueError:
                raise self.err(where + ("ip",), f"'{cfg['ip']}' is not an IPv4 address") \
                    from None
            if net.subnet is not None and ip not in net.subnet:
                raise self.err(where + ("ip",), f"{ip} is outside network '{name}' "
                               f"({net.subnet})")
            piece = net.slice_of(host)
            if piece is not None and ip not in piece:
                raise self.err(where + ("ip",), f"{ip} is outside host '{host}''s slice of "
                               f"'{name}' ({piece})")
        return model.Attachment(name, ip, tuple(cfg.get("aliases") or ()))

    def ordered(self, containers: list[model.Container]) -> list[model.Container]:
        """File order, except that a linked container comes before its consumer (it must
        exist when the consumer is created)."""
        by_name = {c.name: c for c in containers}
        out: list[model.Container] = []
        visiting: set[str] = set()

        def visit(c: model.Container) -> None:
            if c in out:
                return
            if c.name in visiting:
                raise self.err(("containers", c.name, "links"), "links go round in a circle")
            visiting.add(c.name)
            for i, spec in enumerate(c.links):
                target = by_name.get(spec.split(":", 1)[0])
                if target is None:
                    raise self.err(("containers", c.name, "links", i),
                                   f"no container '{spec.split(':', 1)[0]}'")
                visit(target)
            visiting.discard(c.name)
            out.append(c)

        for c in containers:
            visit(c)
        return out

    def links(self) -> None:
        for c in self.lab.containers:
            for i, spec in enumerate(c.links):
                name, _, alias = spec.partition(":")
                target = self.lab.container(name)
                assert target is not None
                if target.host != c.host:
                    raise self.err(("containers", c.name, "links", i),
                                   f"'{name}' is on host '{target.host}': a link joins "
                                   f"containers of one host (this one is on '{c.host}')")

    def unique_ips(self) -> None:
        seen: dict[tuple[str, str, IPv4Address], str] = {}
        for c in self.lab.containers:
            for a in c.networks:
                if a.ip is None:
                    continue
                net = self.lab.network(a.network)
                assert net is not None
                # a local network's addresses are per host; a lab-wide one's are shared
                scope = "" if slices.spans_hosts(net) else c.host
                key = (a.network, scope, a.ip)
                if key in seen:
                    raise self.err(("containers", c.name, "networks", a.network, "ip"),
                                   f"{a.ip} is already container '{seen[key]}''s address")
                seen[key] = c.name

    def rules(self) -> None:
        for h in self.lab.hosts:
            for i, rule in enumerate(h.firewall):
                for key in ("src", "dst"):
                    ref = getattr(rule, key)
                    if ref is not None:
                        self.endpoint(ref, ("hosts", h.name, "firewall", i, key), cidr=True)

    # --- expectations -------------------------------------------------------------

    def endpoint(self, ref: str, where: Path, *, cidr: bool = False) -> str:
        """Check a reference to a container (NAME, NAME@NET), a host (HOST, HOST:IF) or an
        address (or a subnet, with `cidr`); the kind it is."""
        name, at, net = ref.partition("@")
        if at:
            c = self.lab.container(name)
            if c is None:
                raise self.err(where, f"no container '{name}'")
            if net not in c.network_names:
                raise self.err(where, f"container '{name}' is not on network '{net}' (it is "
                               f"on {', '.join(c.network_names)})")
            return "container"
        name, colon, ifname = ref.partition(":")
        if colon:
            h = self.lab.host(name)
            if h is None:
                raise self.err(where, f"no host '{name}'")
            nic = h.nic(ifname) or next((n for n in h.nics if n.bridge == ifname), None)
            if nic is None or nic.address is None:
                raise self.err(where, f"host '{name}' has no address on '{ifname}'")
            return "host"
        if self.lab.container(ref) is not None:
            return "container"
        if self.lab.host(ref) is not None:
            if self.lab.host(ref).underlay is None:  # type: ignore[union-attr]
                raise self.err(where, f"host '{ref}' has no NIC with an address")
            return "host"
        try:
            if cidr and "/" in ref:
                IPv4Network(ref, strict=False)
            else:
                IPv4Address(ref)
            return "address"
        except ValueError:
            raise self.err(where, f"no host, container or address '{ref}'") from None

    def expectation(self, i: int, raw: dict) -> model.Expectation:
        where: Path = ("expect", i)
        src = raw["from"]
        if self.lab.container(src) is None and self.lab.host(src) is None:
            raise self.err(where + ("from",), f"no host or container '{src}'")
        kind = self.endpoint(raw["to"], where + ("to",))
        proto = raw.get("proto") or ("tcp" if "port" in raw or "bytes" in raw else "icmp")
        port = raw.get("port", DEFAULT_PORTS.get(proto))
        if proto != "icmp" and port is None:
            raise self.err(where, f"proto {proto} needs a `port`")
        if proto == "icmp" and port is not None:
            raise self.err(where + ("port",), "icmp has no ports")
        nbytes = None
        if "bytes" in raw:
            nbytes = self.size(raw["bytes"], where + ("bytes",))
            if proto != "tcp":
                raise self.err(where + ("bytes",), "bytes are carried over tcp only")
            if kind == "address":
                raise self.err(where + ("to",), "with `bytes`, `to` must be a container or a "
                               "host (the prober opens its sink there)")
        if "status" in raw and proto != "http":
            raise self.err(where + ("status",), "a status needs proto http")
        via = raw.get("via") or ()
        via = (via,) if isinstance(via, str) else tuple(via)
        for j, v in enumerate(via):
            self.via(v, where + ("via",) + ((j,) if isinstance(raw.get("via"), list) else ()))
        return model.Expectation(
            src=src, dst=raw["to"], proto=proto, port=port, expect=raw.get("expect", "ok"),
            timeout=float(raw.get("timeout", 1.0)), within=float(raw.get("within", 10.0)),
            nbytes=nbytes, status=raw.get("status"), path=raw.get("path", "/"), via=via,
            index=i)

    def via(self, ref: str, where: Path) -> None:
        """HOST:IF or CONTAINER:IF (any interface there), or a segment (its bridge)."""
        name, colon, ifname = ref.partition(":")
        if not colon:
            if self.lab.segment(ref) is None:
                raise self.err(where, f"'{ref}' is not HOST:IF, CONTAINER:IF or a segment")
            return
        if self.lab.host(name) is None and self.lab.container(name) is None:
            raise self.err(where, f"no host or container '{name}'")
        if not ifname:
            raise self.err(where, f"'{ref}' names no interface")

    def size(self, value: int | str, where: Path) -> int:
        if isinstance(value, int):
            n = value
        else:
            m = SIZE.match(value.strip())
            unit = (m.group(2) or "").lower() if m else ""
            if m is None or unit not in SIZE_UNITS:
                raise self.err(where, f"'{value}' is not a size (e.g. 1MiB, 500k, 4096)")
            n = int(float(m.group(1)) * SIZE_UNITS[unit])
        if n <= 0:
            raise self.err(where, "must be more than 0 bytes")
        return n


def _text(v: Any) -> str:
    if v is None:
        return ""
    return str(v).lower() if isinstance(v, bool) else str(v)

