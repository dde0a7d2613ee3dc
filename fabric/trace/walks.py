"""Trace events into *stops*: one base chain's walk of one packet, with the packet's
headers as the walk began, its interfaces, and every event of it in order.

The kernel dumps the headers with the first event of each base chain a traced packet
walks, so an event carrying headers starts a stop and the events after it (rules
matched, jumps, returns, the policy) belong to it.
"""

from dataclasses import dataclass, field

from fabric.firewall.intent_words import IntentWords, SeenRule
from fabric.firewall.intent_words import Packet as Seen
from fabric.trace import arming
from fabric.trace.events import Event
from fabric.trace.lookups import Kernel
from fabric.trace.model import Hop
from fabric.trace.packet import ICMP, PROTO_NAMES, Packet, parse
from fabric.trace.ruleset import Rule, Ruleset


@dataclass
class Stop:
    family: str
    table: str
    chain: str
    pkt: Packet
    iif: str | None
    oif: str | None
    events: list[Event] = field(default_factory=list)

    @property
    def own(self) -> bool:
        """One of the trace's own chains, named for their hook."""
        return self.table.startswith(arming.PREFIX)

    def at(self, family: str, hook: str) -> bool:
        return self.own and self.family == family and self.chain == hook

    @property
    def verdict(self) -> str | None:
        return self.events[-1].verdict if self.events else None

    def seen(self) -> Seen:
        """The packet as fabric's words need it: addresses, protocol, port, interfaces."""
        p = self.pkt
        return Seen(p.src, p.dst, PROTO_NAMES.get(p.proto, str(p.proto)),
                    p.dport if p.proto != ICMP else None, self.iif, self.oif, p.src_mac)


def stops(evs: list[Event], kernel: Kernel) -> list[Stop]:
    out: list[Stop] = []
    for e in evs:
        if e.has_packet:
            pkt = parse(e.ll, e.network, e.transport)
            if pkt is None:       # not IPv4: nothing of the probe's
                out.append(Stop(e.family, e.table, e.chain, Packet("", "", 0, 0, 0), None,
                                None, []))
                continue
            out.append(Stop(e.family, e.table, e.chain, pkt, kernel.name(e.iif),
                            kernel.name(e.oif), [e]))
        elif out:
            out[-1].events.append(e)
    return [s for s in out if s.pkt.src]


def walk_hop(stop: Stop, rules: Ruleset, words: IntentWords, host: str, namespace: str,
             direction: str) -> Hop:
    """One walk of someone's base chain (fabric's, iptables', Docker's...): every rule
    that matched with its verdict, the chain's final verdict, and the rule that
    decided it in fabric's words."""
    base = rules.chain(stop.family, stop.table, stop.chain)
    seen = stop.seen()
    entries: list[str] = []
    rule_text, reason, last_rule = "", "", ""
    for e in stop.events:
        if e.type == "rule" and e.handle is None:
            continue     # the kernel's "end of rules" of a chain nothing matched in
        rule = rules.rule(e.family, e.table, e.handle) if e.type == "rule" else None
        said = words.describe_seen(seen, _seen_rule(rules, e, rule), e.verdict)
        target = f" {e.target}" if e.target else ""
        if rule is None:
            entries.append(f"{e.chain}: {e.type} {e.verdict}")
            continue
        text = f"{e.chain} rule {rule.index}: {rule.text}"
        entries.append(f"{text} -> {e.verdict}{target}")
        last_rule = text
        # the rule that decided, in words: the last one that says something, but a
        # drop's words are not replaced by what came before the drop
        if said and (not reason.startswith("dropped") or e.verdict == "drop"):
            reason, rule_text = said, text
    rule_text = rule_text or last_rule
    verdict = stop.verdict or "accept"
    if verdict == "drop" and not reason:
        reason = f"dropped by {stop.family} {stop.table} {rule_text or stop.chain + ' policy'}"
    if verdict == "drop" and not rule_text:
        rule_text = f"{stop.chain}: policy drop"
    return Hop(host, namespace, _ifaces(stop), "nat" if base.type == "nat" else "filter",
               verdict, rule_text, reason, direction, stop.pkt.describe(),
               f"{stop.family} {stop.table} {stop.chain}", tuple(entries))


def _seen_rule(rules: Ruleset, e: Event, rule: Rule | None) -> SeenRule:
    if rule is None:        # the chain's policy
        return SeenRule(e.family, e.table, e.chain)
    return SeenRule(rule.family, rule.table, rule.chain, rule.index, rule.text, rule.comment,
                    rule.sets, rules.count(rule.family, rule.table, rule.chain))


def _ifaces(stop: Stop) -> str:
    if stop.iif and stop.oif:
        return f"{stop.iif} -> {stop.oif}"
    return stop.iif or stop.oif or ""
