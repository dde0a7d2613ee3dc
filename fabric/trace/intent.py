"""What one host's fabric intends, indexed by what trace events point at: interfaces,
addresses, link pairs, published ports and users' rules.

Built in the daemon from the host's FirewallIntent (the same one its firewall is
rendered from), its containers' names, and the names the trace's caller knows for
addresses on other hosts (a lab knows every container's address; one daemon only its
own). Pure data: no kernel access.
"""

import ipaddress
from dataclasses import dataclass, field

from fabric.firewall.intent import FirewallIntent, LinkIntent, NetworkIntent, PortIntent
from fabric.trace.packet import is_ipv4


@dataclass
class Intent:
    firewall: FirewallIntent
    containers: dict[str, str] = field(default_factory=dict)   # id -> name
    names: dict[str, str] = field(default_factory=dict)        # address -> name
    user_rules: list[dict] = field(default_factory=list)       # with their position
    backend: str = "nftables"

    def __post_init__(self) -> None:
        fw = self.firewall
        self._nets = {n.id: n for n in fw.networks}
        self._by_if = {i: n for n in fw.networks for i in n.facts.interfaces}
        self._ports = {e.host_ifname: e for e in fw.endpoints}
        for e in fw.endpoints:
            name = self.containers.get(e.container_id)
            if name:
                self.names.setdefault(e.ipv4, name)

    # --- networks ---------------------------------------------------------------------

    def network(self, ifname: str | None) -> NetworkIntent | None:
        """The network behind an interface: its bridge (or routed interface), or a
        container's port on it."""
        if not ifname:
            return None
        if ifname in self._by_if:
            return self._by_if[ifname]
        ep = self._ports.get(ifname)
        return self._nets.get(ep.network_id) if ep else None

    def network_of(self, address: str) -> NetworkIntent | None:
        ip = ipaddress.IPv4Address(address)
        for n in self.firewall.networks:
            for s in (*n.subnets, *n.facts.span):
                if ip in ipaddress.IPv4Network(s, strict=False):
                    return n
        return None

    def net_name(self, *hints: str | None) -> str:
        """The first network found behind interfaces or addresses, by name."""
        for h in hints:
            if not h:
                continue
            n = self.network(h) if not is_ipv4(h) else self.network_of(h)
            if n is not None:
                return n.name
        return "?"

    # --- containers -------------------------------------------------------------------

    def port_owner(self, ifname: str | None) -> str | None:
        """The container whose veth this bridge port is."""
        ep = self._ports.get(ifname or "")
        # a tunnel device is the port of every remote endpoint: no one's in particular
        return self.containers.get(ep.container_id) if ep else None

    def port_of(self, container: str, address: str) -> str | None:
        """The host side of a container's veth, by the container's address on it."""
        for e in self.firewall.endpoints:
            if e.ipv4 == address and self.containers.get(e.container_id) == container:
                return e.host_ifname
        return None

    def name(self, address: str) -> str:
        """A container's name for its address, else the address itself."""
        return self.names.get(address, address)

    def who(self, address: str) -> str:
        """"a (10.88.0.2)" or the bare address."""
        n = self.names.get(address)
        return f"{n} ({address})" if n else address

    # --- links, ports, rules ----------------------------------------------------------

    def link(self, src: str, dst: str) -> LinkIntent | None:
        for lk in self.firewall.links:
            if (lk.consumer_ip, lk.target_ip) in ((src, dst), (dst, src)):
                return lk
        return None

    def published(self, dst: str, port: int | None) -> PortIntent | None:
        """The published port a packet to dst:port is for: seen after DNAT (the
        container's address and port) or before (a host address and the host port)."""
        ports = self.firewall.ports
        for p in ports:
            if p.container_ip == dst and (
                    port is None or p.container_port <= port <= p.container_port_end):
                return p
        for p in ports:
            if port is not None and p.host_port <= port <= p.host_port_end and \
                    p.host_ip in ("0.0.0.0", dst):
                return p
        return None

    def user_rule(self, comment: str) -> dict | None:
        """The user's rule a rule comment `fabric-rule:ID ...` names."""
        if not comment.startswith("fabric-rule:"):
            return None
        rid = comment.split(":", 1)[1].split()[0]
        return next((r for r in self.user_rules if r.get("id") == rid), None)


def describe_rule(rule: dict) -> str:
    """A user's rule as `fabric firewall ls` shows it: "user rule 3 (src 10.88.0.2,
    tcp/80)"."""
    parts = [f"{k} {str(rule[k]).removesuffix('/32')}" for k in ("src", "dst") if rule.get(k)]
    if rule.get("proto"):
        parts.append(f"{rule['proto']}/{rule['dport']}" if rule.get("dport") else rule["proto"])
    what = f" ({', '.join(parts)})" if parts else ""
    return f"user rule {rule.get('position', '?')}{what}"
