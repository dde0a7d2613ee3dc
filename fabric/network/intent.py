"""The FirewallIntent, built whole from the store after every change.

Only data here: which bridges and subnets exist and with what flags, which endpoint
owns which address and MAC (so forged sources can be dropped), which link pairs get
through icc=false, and which ports are published where. The backend renders it.
"""

from fabric.firewall.intent import (
    EndpointIntent,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)
from fabric.network import links as linkmod


def build(*, networks: list[tuple[dict, str, object]], endpoints: list[dict],
          containers: list[dict], user_rules: list[dict], enabled: bool,
          default_network_id: str | None) -> FirewallIntent:
    """networks: (network doc, bridge name, driver config) for every bridged network;
    containers: the docs of running containers."""
    nets = []
    for doc, bridge, cfg in networks:
        nets.append(NetworkIntent(
            id=doc["id"], name=doc["name"], bridge=bridge,
            subnets=tuple(s["subnet"] for s in doc.get("ipam", ())),
            gateways=tuple(s["gateway"] for s in doc.get("ipam", ())),
            icc=bool(getattr(cfg, "icc", True)), internal=bool(doc.get("internal")),
            masquerade=bool(getattr(cfg, "masquerade", True))))
    known = {n.id for n in nets}
    eps = [EndpointIntent(e["network_id"], e["container_id"], e["host_ifname"],
                          e["address"].split("/")[0], e["mac"])
           for e in endpoints if e["network_id"] in known and e.get("address")]
    by_container: dict[str, dict[str, dict]] = {}
    for e in endpoints:
        by_container.setdefault(e["container_id"], {})[e["network_id"]] = e
    return FirewallIntent(
        networks=tuple(nets), endpoints=tuple(eps),
        links=tuple(_links(containers, by_container, default_network_id)),
        ports=tuple(_ports(containers, by_container)),
        user_rules=tuple(_rule(r) for r in user_rules), enabled=enabled)


def _links(containers, by_container, default_id) -> list[LinkIntent]:
    if default_id is None:
        return []
    by_name = {c["Name"].lstrip("/"): c for c in containers}
    out = []
    for c in containers:
        mine = by_container.get(c["Id"], {}).get(default_id)
        if mine is None:
            continue
        for spec in c["HostConfig"].get("Links") or []:
            name, _ = linkmod.parse_link(spec)
            target = by_name.get(name)
            theirs = by_container.get(target["Id"], {}).get(default_id) if target else None
            if theirs is None:
                continue
            out.append(LinkIntent(default_id, mine["address"].split("/")[0],
                                  theirs["address"].split("/")[0],
                                  linkmod.link_ports(target["Config"].get("ExposedPorts"))))
    return out


def _ports(containers, by_container) -> list[PortIntent]:
    out = []
    for c in containers:
        eps = sorted(by_container.get(c["Id"], {}).values(), key=lambda e: e["ifname"])
        eps = [e for e in eps if e.get("address")]
        if not eps:
            continue
        first = eps[0]
        for key, binds in (c["NetworkSettings"].get("Ports") or {}).items():
            port, _, proto = key.partition("/")
            for b in binds or []:
                hp = int(b["HostPort"])
                out.append(PortIntent(c["Id"], first["network_id"], proto or "tcp",
                                      b["HostIp"], hp, hp, first["address"].split("/")[0],
                                      int(port), int(port)))
    return out


def _rule(doc: dict) -> UserRule:
    keys = ("id", "action", "src", "dst", "proto", "dport", "comment")
    return UserRule(**{k: doc[k] for k in keys if k in doc})

