"""fabric's firewall intent in words: from a kernel object back to why fabric made it.

The one mapping behind every view that names fabric's intent: `fabric firewall show`
(each network's rules in words beside their nft or iptables text), `fabric trace` (why
a probe died: "dropped: icc=false on network labnet; containers a and b are not
linked") and `fabric doctor` (whose is this interface, this route).

A rule is known by its reason (reasons.py: the nft rule's comment, or the reason the
iptables backend keeps beside each rule it renders, found by the rule's place in its
chain: `why`); a set element, an interface or a route by what the intent holds.
Nothing here reads the kernel or the store: callers bring what they saw. The intent
knows containers by id and address only, so their names and their links' aliases come
in `Names`, from the network core's records (FirewallRendering.words()), with names for
addresses the host knows nothing of (other hosts' containers, hosts' underlay
addresses), which a trace's caller brings.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fabric.firewall import reasons as why
from fabric.firewall.intent import (
    EndpointIntent,
    FirewallIntent,
    LinkIntent,
    NetworkIntent,
    PortIntent,
    UserRule,
)
from fabric.firewall.reasons import Why, link_ref, port_ref

TAG_PREFIX = "fabric:"      # interfaces fabric makes: fabric:<network id12>[:<endpoint id12>]


@dataclass(frozen=True)
class Names:
    containers: Mapping[str, str] = field(default_factory=dict)   # container id -> name
    # (consumer id, target id) -> the alias of the consumer's --link to the target
    aliases: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # address -> name, for what this host's records do not name: containers on other
    # hosts, hosts' own addresses (a lab's caller knows them all)
    addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Packet:
    """What a caller saw of one packet: enough to say why a rule took it."""
    src: str
    dst: str
    proto: str = "icmp"          # "icmp" | "tcp" | "udp"
    dport: int | None = None
    iif: str | None = None       # interfaces it came in on / was going out of
    oif: str | None = None
    smac: str | None = None


@dataclass(frozen=True)
class SeenRule:
    """A rule a packet met in the kernel, or a base chain's policy (index None), as a
    trace reads it: nft's family, table and chain (iptables-nft's tables are family
    "ip"), its place in its chain and, for nftables, its comment and the sets it
    looks up."""
    family: str
    table: str
    chain: str
    index: int | None = None    # 1-based
    text: str = ""
    comment: str = ""
    sets: tuple[str, ...] = ()
    count: int = 0              # rules in its chain (an iptables chain that differs
                                # from its rendering has lost its reasons)


@dataclass(frozen=True)
class Fact:
    """One statement of intent, with the reasons of the rules that carry it out.
    `network`/`ref` say which rules of the iptables backend are its own (every one of
    them is per network); in nftables the rules are shared and the elements differ."""
    words: str
    reasons: frozenset[str]
    network: str | None = None   # network id
    ref: str | None = None       # link_ref / port_ref / user rule id


def ports_text(ports: Iterable[tuple[str, int, int]]) -> str:
    return ", ".join(f"{proto}/{a}" if a == b else f"{proto}/{a}-{b}" for proto, a, b in ports)


class IntentWords:
    def __init__(self, intent: FirewallIntent, names: Names | None = None):
        self.intent = intent
        self.names = names or Names()
        self.nets = {n.id: n for n in intent.networks}
        self._by_if = {i: n for n in intent.networks for i in n.facts.interfaces}
        self._by_ip = {e.ipv4: e for e in intent.endpoints}
        # a tunnel is the port of every remote endpoint behind it: no one's in particular
        tunnels = {n.facts.tunnel for n in intent.networks}
        self._by_port = {e.host_ifname: e for e in intent.endpoints
                         if e.host_ifname not in tunnels}
        self._rules = {r.id: r for r in intent.user_rules}
        self._position = {r.id: i for i, r in enumerate(intent.user_rules, start=1)}
        self._reasons = RuleReasons(intent)

    # --- who is who ------------------------------------------------------------------

    def container(self, key: str) -> str:
        """A container's name, from its id, address or host-side interface; the key
        itself when the intent knows no container by it."""
        ep = self._by_ip.get(key) or self._by_port.get(key)
        cid = ep.container_id if ep else key
        return self.names.containers.get(cid) or self.names.addresses.get(key) or \
            (cid[:12] if ep else key)

    def who(self, address: str) -> str:
        """"a (10.88.0.2)", or the bare address of no one known."""
        addr = address.removesuffix("/32")
        name = self.container(addr)
        return f"{name} ({addr})" if name != addr else addr

    def port_owner(self, ifname: str | None) -> str | None:
        """The container whose host-side veth (a bridge port) this is."""
        ep = self._by_port.get(ifname or "")
        return self.container(ep.container_id) if ep else None

    def endpoint(self, key: str) -> EndpointIntent | None:
        """By address or host-side interface."""
        return self._by_ip.get(key) or self._by_port.get(key)

    def network(self, key: str | None) -> NetworkIntent | None:
        """By id (or its first 12 characters), name, interface, or an address in one
        of its subnets."""
        if not key:
            return None
        for n in self.intent.networks:
            if key in (n.id, n.name) or (len(key) >= 12 and n.id.startswith(key)):
                return n
        if key in self._by_if:
            return self._by_if[key]
        ep = self.endpoint(key)
        if ep is not None:
            return self.nets.get(ep.network_id)
        return self._holding(key)

    def _holding(self, addr: str) -> NetworkIntent | None:
        try:
            ip = ipaddress.IPv4Address(addr)
        except ValueError:
            return None
        for n in self.intent.networks:
            if any(ip in ipaddress.IPv4Network(s, strict=False) for s in n.subnets):
                return n
        for n in self.intent.networks:
            if any(ip in ipaddress.IPv4Network(s, strict=False) for s in n.facts.span):
                return n
        return None

    def rule(self, rule_id: str) -> UserRule | None:
        return self._rules.get(rule_id)

    def position(self, rule_id: str) -> int | None:
        """A user's rule's place, as `fabric firewall ls` numbers it."""
        return self._position.get(rule_id)

    def published(self, dst: str, dport: int | None) -> PortIntent | None:
        """The published port a packet to dst:dport is for: seen after DNAT (the
        container's address and port) or before (a host address and the host port)."""
        ports = self.intent.ports
        for p in ports:
            if p.container_ip == dst and (
                    dport is None or p.container_port <= dport <= p.container_port_end):
                return p
        return next((p for p in ports if dport is not None and p.host_ip in ("0.0.0.0", dst)
                     and p.host_port <= dport <= p.host_port_end), None)

    def links_between(self, a: str, b: str) -> list[LinkIntent]:
        """Links (either way) between the containers at addresses a and b."""
        return [lk for lk in self.intent.links
                if {lk.consumer_ip, lk.target_ip} == {a, b}]

    # --- statements of intent ---------------------------------------------------------

    def icc(self, n: NetworkIntent) -> str:
        if n.internal:
            return f"network {n.name}: internal, nothing goes in or out of it"
        if n.facts.icc:
            return f"network {n.name}: icc=true, its containers talk to each other freely"
        span = " (on every host)" if n.facts.span else ""
        return (f"network {n.name}: icc=false, its containers may not talk to each other"
                f"{span}, links and published ports excepted")

    def link(self, lk: LinkIntent) -> str:
        a, b = self.container(lk.consumer_ip), self.container(lk.target_ip)
        alias = self._alias(lk)
        by = f"by link {b}:{alias}" if alias else "by a link"
        if not lk.ports:
            return f"{a} -> {b}: linked ({by}), but {b} exposes no port, so nothing passes"
        return f"{a} -> {b} {ports_text(lk.ports)} allowed {by}"

    def _alias(self, lk: LinkIntent) -> str | None:
        ca, cb = self.endpoint(lk.consumer_ip), self.endpoint(lk.target_ip)
        if ca is None or cb is None:
            return None
        return self.names.aliases.get((ca.container_id, cb.container_id))

    def port(self, p: PortIntent) -> str:
        host = f"{p.host_ip or '0.0.0.0'}:{_span(p.host_port, p.host_port_end)}"
        ctr = f"{self.container(p.container_id)}:{_span(p.container_port, p.container_port_end)}"
        return f"{host} -> {ctr}/{p.proto} (DNAT)"

    def masquerade(self, n: NetworkIntent) -> str:
        subnets = ", ".join(n.subnets) or "its subnet"
        if n.internal:
            return f"network {n.name}: nothing leaves it, so nothing is masqueraded"
        if not n.facts.masquerade:
            return f"network {n.name}: traffic leaving it keeps its source (no masquerade)"
        return f"network {n.name}: traffic from {subnets} leaving the host is masqueraded"

    def unnatted(self, n: NetworkIntent) -> str:
        return (f"network {n.name}: {', '.join(n.facts.unnatted)} reached without NAT, and "
                "let in from there")

    def user_rule(self, r: UserRule) -> str:
        parts = [r.action]
        if r.proto:
            parts.append(r.proto + (f"/{r.dport}" if r.dport else ""))
        parts.append(f"from {self.who(r.src) if r.src else 'anywhere'}")
        parts.append(f"to {self.who(r.dst) if r.dst else 'anywhere'}")
        note = f" ({r.comment})" if r.comment else ""
        return (f"user rule {self.position(r.id) or '?'} ({r.id}): {' '.join(parts)}{note}, "
                "before fabric's own rules")

    def policy(self) -> list[Fact]:
        """fabric's default for forwarded traffic (its forward chain)."""
        return [
            Fact("forwarded into a network: dropped unless published or a reply",
                 frozenset({why.INBOUND, why.REPLY})),
            Fact("between networks: dropped (published ports excepted)",
                 frozenset({why.BETWEEN})),
            Fact("from a network out of the host: allowed", frozenset({why.OUTBOUND})),
            Fact("not to or from a network of fabric's: left to the host's other firewalls",
                 frozenset({why.NOT_FABRIC})),
        ]

    def facts(self, n: NetworkIntent) -> list[Fact]:
        """What fabric's firewall does for one network, one statement each."""
        icc = (frozenset({why.INTERNAL}) if n.internal else
               frozenset({why.ICC_TRUE_BRIDGED, why.ICC_TRUE_UNTRACKED, why.ICC_TRUE})
               if n.facts.icc else frozenset({why.ICC_FALSE, why.ICC_FALSE_NEW,
                                              why.ICC_FALSE_SPAN}))
        out = [Fact(self.icc(n), icc, n.id)]
        out += [Fact(self.link(lk), frozenset({why.LINK, why.LINK_REPLY}), n.id, link_ref(lk))
                for lk in self.intent.links if lk.network_id == n.id]
        if not n.internal:
            out += [Fact(self.port(p), frozenset({why.DNAT, why.PUBLISHED, why.HAIRPIN,
                                                  why.LOOPBACK_PUBLISH}), n.id, port_ref(p))
                    for p in self.intent.ports if p.network_id == n.id]
            out.append(Fact(self.masquerade(n), frozenset({why.MASQUERADE}), n.id))
            if n.facts.unnatted:
                out.append(Fact(self.unnatted(n), frozenset({why.UNNAT}), n.id))
        if n.facts.bridged:
            out.append(Fact(f"network {n.name}: each container sends only from its own MAC "
                            "and address", frozenset({why.SPOOF_MAC, why.SPOOF_IP,
                                                      why.SPOOF_ARP}), n.id))
        return out

    def user_facts(self) -> list[Fact]:
        return [Fact(self.user_rule(r), frozenset({why.USER_PREFIX}), None, r.id)
                for r in self.intent.user_rules]

    # --- kernel objects ---------------------------------------------------------------

    def why(self, rule: SeenRule) -> Why | None:
        """Why one of fabric's rules is there (reasons.PLUMBING for a jump between its
        chains, or a rule the store's rendering no longer explains); None for a rule
        that is not fabric's."""
        return self._reasons.of(rule)

    def describe_seen(self, packet: Packet, rule: SeenRule, verdict: str | None) -> str:
        """What a rule (or a chain's policy) a packet met did to it, in fabric's words:
        a drop's reason, what let it through or rewrote it; "" for a jump between
        fabric's chains and for someone else's rule that let it pass."""
        from fabric.firewall import verdict_words
        return verdict_words.seen(self, packet, rule, verdict)

    def describe_rule(self, comment: str | None, family: str = "", chain: str = "") -> str:
        """One of fabric's rules, by its comment (or reason), in words."""
        reason, rule_id = why.of_comment(comment)
        if reason == why.USER_PREFIX and rule_id is not None:
            r = self._rules.get(rule_id)
            return self.user_rule(r) if r else f"user rule {rule_id}, no longer in the store"
        if reason is None:
            where = " ".join(x for x in (family, "fabric", chain) if x)
            return f"part of fabric's plumbing ({where}): a jump between its own chains"
        return why.SAID.get(reason, reason)

    def describe_drop(self, packet: Packet, comment: str | None = None,
                      where: str = "") -> str:
        """Why a rule dropped this packet, naming fabric's intent: "dropped: icc=false on
        network labnet; containers a and b are not linked". `comment` is the rule's (its
        reason); `where` names a rule that is not fabric's ("ip filter FORWARD policy
        drop")."""
        from fabric.firewall import verdict_words
        return verdict_words.dropped(self, packet, comment, where)

    def describe_pass(self, packet: Packet, comment: str | None = None) -> str:
        """Why a rule let this packet through, or rewrote it: "allowed: app -> web tcp/80
        allowed by link web:db", "DNAT: 0.0.0.0:8080 -> web:80/tcp (DNAT)"."""
        from fabric.firewall import verdict_words
        return verdict_words.passed(self, packet, comment)

    def describe_element(self, set_name: str, element: tuple | str) -> str:
        """An element of one of fabric's nft sets or maps, as the tuple nftrender builds
        (or a single value)."""
        e = element if isinstance(element, tuple) else (element,)
        if set_name == "links" and len(e) >= 2:
            lk = next((x for x in self.intent.links
                       if (x.consumer_ip, x.target_ip) == (str(e[0]), str(e[1]))), None)
            return self.link(lk) if lk else f"a link {e[0]} -> {e[1]} the store does not hold"
        if set_name.startswith("dnat_") and e and isinstance(e[0], tuple):
            key = e[0]
            port = int(key[-1])
            p = next((x for x in self.intent.ports if x.proto == str(key[-2])
                      and x.host_port <= port <= x.host_port_end), None)
            return self.port(p) if p else f"a published port {key} the store does not hold"
        if set_name in ("ports", "port_mac", "port_ip", "icc_deny", "icc_port_ip"):
            return self.describe_interface(str(e[0]))
        if set_name in ("bridges", "icc_bridges", "internal", "localnet", "same_bridge",
                        "icc_same", "hairpin", "span_deny"):
            n = self.network(str(e[0]))
            return f"interface {e[0]} of {said(n)}" if n else f"interface {e[0]}, of no network"
        if set_name in ("masq_src", "unnat", "icc_dst"):
            n = self.network(str(e[-1]).split("/")[0]) or self.network(str(e[0]).split("/")[0])
            return f"addresses of {said(n)}" if n else f"{e}, of no network"
        return f"{set_name} element {e}"

    def describe_interface(self, ifname: str, alias: str | None = None) -> str:
        n = self._by_if.get(ifname)
        if n is not None:
            return f"{ifname}: the interface of network {n.name}"
        ep = self._by_port.get(ifname)
        if ep is not None:
            return (f"{ifname}: container {self.container(ep.container_id)}'s veth on "
                    f"{said(self.nets.get(ep.network_id))}")
        if alias and alias.startswith(TAG_PREFIX):
            parts = alias[len(TAG_PREFIX):].split(":")
            owner = self.network(parts[0])
            if owner is None:
                return f"{ifname}: tagged for network {parts[0]}, which fabric does not know"
            if len(parts) > 1:
                return (f"{ifname}: tagged for endpoint {parts[1]} of network {owner.name}, "
                        "which the store does not hold")
            return f"{ifname}: tagged for network {owner.name}"
        return f"{ifname}: not fabric's"

    def describe_route(self, dst: str, gateway: str | None = None, dev: str | None = None,
                       proto: int | str | None = None) -> str:
        """`proto`: the route's protocol, by number or as `ip route` names it."""
        via = f" via {self.who(gateway)}" if gateway else ""
        on = f" dev {dev}" if dev else ""
        n = self._by_if.get(dev or "")
        if n is not None:
            return f"route to {dst}{on}: network {n.name}'s own"
        if proto not in (251, "fabric"):
            return f"route to {dst}{via}{on}: the host's own" + (
                f" (proto {proto})" if isinstance(proto, str) and proto else "")
        net = _parse(dst)
        for m in self.intent.networks:
            spans = [_parse(s) for s in m.facts.span]
            if net is not None and any(s is not None and net.subnet_of(s) for s in spans):
                return (f"route to {dst}{via}{on}: fabric's, to network {m.name}'s "
                        "containers on another host")
        return f"route to {dst}{via}{on}: fabric's (proto 251), of no network it knows"


class RuleReasons:
    """A kernel rule's reason. nftables: its comment. iptables: its place in one of
    fabric's chains, against the rules rendered from the intent (as `firewall show`
    matches them), once per intent."""

    def __init__(self, intent: FirewallIntent):
        self.intent = intent
        self._ipt: dict[tuple[str, str], list[Why]] | None = None

    def of(self, rule: SeenRule) -> Why | None:
        from fabric.firewall import iptables, nftrender
        if rule.family in ("bridge", "inet") and rule.table == nftrender.TABLE:
            reason, rule_id = why.of_comment(rule.comment)
            return Why(reason, None, rule_id)
        if rule.family != "ip" or rule.chain not in iptables.CHAINS.get(rule.table, ()):
            return None
        if self._ipt is None:
            self._ipt = {}
            for table, lines in iptables.explained(self.intent).items():
                for line, w in lines:
                    self._ipt.setdefault((table, line.split(" ", 2)[1]), []).append(w)
        got = self._ipt.get((rule.table, rule.chain), [])
        if rule.index is None or len(got) != rule.count or not 0 < rule.index <= len(got):
            return why.PLUMBING
        return got[rule.index - 1]


def _span(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}-{b}"


def said(n: NetworkIntent | None) -> str:
    """"network NAME", or what to say when there is none."""
    return f"network {n.name}" if n is not None else "no network of fabric's"


def _parse(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return None
