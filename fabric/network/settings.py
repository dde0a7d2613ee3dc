"""Engine network settings, with the Docker daemon's names and meanings.

Read from `settings.json` in the host root (the `network` object, or top-level keys),
overridden by the daemon's global options. Keys:

  bip         the default bridge's address and prefix, e.g. 192.168.5.1/24
  fixed-cidr  the part of the default bridge's subnet containers get addresses from
  bridge      use this existing bridge (made by hand, e.g. br0) as the default bridge;
              "none" creates no default bridge network
  icc         containers on the default bridge may talk to each other (true)
  ip-forward  set net.ipv4.ip_forward=1 (true)
  ip-masq     masquerade traffic leaving the default bridge's subnet (true)
  iptables    let fabric install firewall rules at all (true)
  mtu         the default bridge's MTU
  firewall-backend  "nftables" (default) or "iptables"
  routed-subnets  subnets routed to and from the default bridge's containers as they
              are: not masqueraded going there, let in coming from there (seed 003's
              hand-made routes between hosts' --bip subnets); a list, or CIDRs
              separated by commas
  cluster-store   the store the hosts of a cluster share: sqlite:///PATH (the hosts of
              a lab on one machine) or etcd://ADDR:PORT[,ADDR:PORT...] (etcd v3, hosts
              on several machines; fabric/cluster)
  cluster-advertise  the address other hosts reach this one at (its underlay address)
"""

import json
from dataclasses import dataclass, fields

from fabric.errors import InvalidArgument
from fabric.network import ipam
from fabric.network.options import parse_bool

DEFAULT_BRIDGE = "fabric0"
DEFAULT_NETWORK = "bridge"


@dataclass(frozen=True)
class Settings:
    bip: str | None = None
    fixed_cidr: str | None = None
    bridge: str | None = None
    icc: bool = True
    ip_forward: bool = True
    ip_masq: bool = True
    iptables: bool = True
    mtu: int | None = None
    firewall_backend: str = "nftables"
    routed_subnets: tuple[str, ...] = ()
    cluster_store: str | None = None
    cluster_advertise: str | None = None

    @property
    def default_bridge(self) -> str:
        return self.bridge or DEFAULT_BRIDGE

    @property
    def default_disabled(self) -> bool:
        return self.bridge == "none"


def parse(raw: dict) -> Settings:
    known = {f.name.replace("_", "-"): f for f in fields(Settings)}
    out: dict = {}
    for key, value in raw.items():
        f = known.get(key.replace("_", "-"))
        if f is None:
            raise InvalidArgument(f"unknown network setting {key!r} "
                                  f"(known: {', '.join(sorted(known))})")
        if value is None:
            continue
        if f.type in (bool, "bool"):
            out[f.name] = parse_bool(value, f"setting {key}")
        elif f.name == "mtu":
            try:
                out[f.name] = int(value)
            except ValueError:
                raise InvalidArgument(f"setting mtu: expected a number, got {value!r}") from None
        elif f.name in _CHECKS:
            out[f.name] = _CHECKS[f.name](value)
        else:
            out[f.name] = str(value)
    if out.get("firewall_backend", "nftables") not in ("nftables", "iptables"):
        raise InvalidArgument("setting firewall-backend: use nftables or iptables")
    return Settings(**out)


def _subnets(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(str(ipam.parse_subnet(str(i).strip(), "routed-subnets entry"))
                 for i in items if str(i).strip())


STORE_KINDS = "sqlite:///PATH or etcd://ADDR:PORT[,ADDR:PORT...]"


def _store_url(value: object) -> str:
    url = str(value)
    if url.startswith("etcd://"):
        etcd_endpoints(url)
    elif not url.startswith("sqlite:///"):
        raise InvalidArgument(f"setting cluster-store: {url!r} is not a store fabric knows "
                              f"({STORE_KINDS})")
    return url


def etcd_endpoints(url: str) -> list[tuple[str, int]]:
    """`etcd://10.0.0.5:2379,10.0.0.6:2379` as [(address or name, port)...]; the one
    grammar for the setting and for fabric/cluster/connect.py."""
    out = []
    for part in url.removeprefix("etcd://").split(","):
        host, sep, port = part.strip().rpartition(":")
        host = host.strip("[]")     # [fd00::5]:2379
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or \
                "/" in host:
            raise InvalidArgument(f"cluster store {url!r}: {part.strip()!r} is not ADDR:PORT "
                                  "(etcd://ADDR:PORT[,ADDR:PORT...])")
        out.append((host, int(port)))
    return out


def _advertise(value: object) -> str:
    # Docker's --cluster-advertise took ADDRESS:PORT; the port has no use here
    return str(ipam.parse_address(str(value).split(":")[0], "cluster-advertise address"))


_CHECKS = {"routed_subnets": _subnets, "cluster_store": _store_url,
           "cluster_advertise": _advertise}


def load(path: str, overrides: dict | None = None) -> Settings:
    raw: dict = {}
    try:
        with open(path) as f:
            doc = json.load(f)
        raw = dict(doc.get("network", {})) if isinstance(doc.get("network"), dict) else {
            k: v for k, v in doc.items() if k.replace("_", "-") in KEYS}
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read settings {path}: {e}") from e
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return parse(raw)


KEYS = frozenset(f.name.replace("_", "-") for f in fields(Settings))
