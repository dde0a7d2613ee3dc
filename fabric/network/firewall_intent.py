"""The FirewallIntent, built whole from the network core's records after every change.

Only data here: each network as its driver's firewall facts describe it, which
endpoint owns which address and MAC (so forged sources can be dropped), which link
pairs get through icc=false, and which ports are published where. Everything comes
from network and endpoint records; no container document is read. The backend
renders it.
"""

from fabric.firewall.intent import (
    EndpointIntent,
    FirewallFacts,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)


def build(*, networks: list[tuple[dict, FirewallFacts]], endpoints: list[dict],
          user_rules: list[dict], enabled: bool,
          default_network_id: str | None,
          remote: tuple[EndpointIntent, ...] = ()) -> FirewallIntent:
    """networks: (network record, its driver's facts) for every network the firewall
    knows of; endpoints: every endpoint record of this host; remote: the containers
    of networks with a tunnel on other hosts, each on its network's tunnel port."""
    nets = tuple(NetworkIntent(id=doc["id"], name=doc["name"], facts=facts,
                               subnets=tuple(s["subnet"] for s in doc.get("ipam", ())),
                               gateways=tuple(s["gateway"] for s in doc.get("ipam", ())),
                               internal=bool(doc.get("internal")))
                 for doc, facts in networks)
    known = {n.id for n in nets}
    eps = [EndpointIntent(e["network_id"], e["container_id"], e["host_ifname"],
                          _ip(e), e["mac"])
           for e in endpoints if e["network_id"] in known and e.get("address")]
    return FirewallIntent(
        networks=nets, endpoints=tuple(eps) + tuple(e for e in remote if e.network_id in known),
        links=tuple(_links(endpoints, default_network_id)),
        ports=tuple(_ports(endpoints)),
        user_rules=tuple(_rule(r) for r in user_rules), enabled=enabled)


def _ip(ep: dict) -> str:
    return ep["address"].split("/")[0]


def _links(endpoints: list[dict], default_id: str | None) -> list[LinkIntent]:
    """Link pairs live on the default bridge: consumer -> target's exposed ports."""
    if default_id is None:
        return []
    on_default = [e for e in endpoints if e["network_id"] == default_id]
    by_name = {e["container_name"]: e for e in on_default}
    out = []
    for mine in on_default:
        for name, _alias in mine.get("links", ()):
            theirs = by_name.get(name)
            if theirs is None:
                continue
            out.append(LinkIntent(default_id, _ip(mine), _ip(theirs),
                                  tuple((p, a, b) for p, a, b in theirs.get("exposed", ()))))
    return out


def _ports(endpoints: list[dict]) -> list[PortIntent]:
    """A container's ports are published to its first endpoint (eth0, or the lowest
    left); every endpoint of it carries the same bindings."""
    first: dict[str, dict] = {}
    for e in endpoints:
        if e.get("address"):
            cur = first.get(e["container_id"])
            if cur is None or e["ifname"] < cur["ifname"]:
                first[e["container_id"]] = e
    out = []
    for cid, ep in first.items():
        for key, binds in (ep.get("ports") or {}).items():
            port, _, proto = key.partition("/")
            for b in binds or []:
                hp = int(b["HostPort"])
                out.append(PortIntent(cid, ep["network_id"], proto or "tcp", b["HostIp"], hp,
                                      hp, _ip(ep), int(port), int(port)))
    return out


def _rule(doc: dict) -> UserRule:
    keys = ("id", "action", "src", "dst", "proto", "dport", "comment")
    return UserRule(**{k: doc[k] for k in keys if k in doc})
