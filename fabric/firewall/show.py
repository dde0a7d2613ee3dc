"""`fabric firewall show`: the rules that govern each network and link, in words,
beside the kernel's own text of exactly those rules and their counters.

Pure: the caller brings the intent in words, the rules as the kernel lists them
(backend.rules()) and, for nftables, the rendered ruleset (its set elements say which
network a shared rule acts for). Which kernel rule serves which statement of intent:

- nftables: by the rule's comment, its reason (reasons.py). The rules are shared by
  every network; the set elements that make them act for this one are shown with them.
- iptables: by its place in its chain, against the rules rendered with why each is
  there (iptables.explained): every rule is one network's, one link's, one port's.
  A chain whose rule count differs from the rendering is drifted and said so.
"""

from dataclasses import dataclass

from fabric.firewall import reasons as why
from fabric.firewall.backend import KernelRule
from fabric.firewall.intent import NetworkIntent
from fabric.firewall.intent_words import Fact, IntentWords
from fabric.firewall.reasons import Why
from fabric.firewall.ruleset import Ruleset, element_text


@dataclass(frozen=True)
class Seen:
    """A kernel rule with why it is there."""
    rule: KernelRule
    why: Why
    shared: bool            # it acts for every network (nftables), not for one


def explain_nft(rules: list[KernelRule]) -> list[Seen]:
    out = []
    for r in rules:
        reason, rule_id = why.of_comment(r.comment)
        out.append(Seen(r, Why(reason, None, rule_id), reason != why.USER_PREFIX))
    return out


def explain_iptables(rules: list[KernelRule],
                     rendered: dict[str, list[tuple[str, Why]]]) -> tuple[list[Seen], list[str]]:
    """(kernel rules with their reasons, the chains whose rules are not as rendered)."""
    chains: dict[tuple[str, str], list[KernelRule]] = {}
    for r in rules:
        chains.setdefault((r.table, r.chain), []).append(r)
    out, drifted = [], []
    for (table, chain), got in chains.items():
        want = [w for line, w in rendered.get(table, ()) if line.split(" ", 2)[1] == chain]
        if len(want) != len(got):
            drifted.append(f"{table} {chain}: {len(got)} rules, {len(want)} rendered")
            want = [why.PLUMBING] * len(got)
        out += [Seen(r, w, False) for r, w in zip(got, want)]
    return out, drifted


def _serves(s: Seen, fact: Fact) -> bool:
    """Does this rule carry out this statement? Its reason must be one of the
    statement's; a rule of one network, link, port or user rule only that one's."""
    w = s.why
    if w.reason not in fact.reasons:
        return False
    if w.reason == why.USER_PREFIX:
        return w.ref == fact.ref
    if fact.network is not None and w.network not in (None, fact.network):
        return False
    return fact.ref is None or w.ref in (None, fact.ref)


def _fact(fact: Fact, seen: list[Seen], elements: list[str]) -> dict:
    return {"words": fact.words, "elements": elements,
            "rules": [{"table": s.rule.table, "chain": s.rule.chain, "text": s.rule.text,
                       "packets": s.rule.packets, "bytes": s.rule.bytes,
                       "handle": s.rule.handle, "shared": s.shared}
                      for s in seen if _serves(s, fact)]}


def view(words: IntentWords, backend: str, seen: list[Seen], rendered: Ruleset | None,
         others: list[str], drift: list[str]) -> dict:
    """The whole view, as `--json` prints it; `others`: other firewalls' forward
    policies (coexist), `drift`: how the kernel differs from the store."""
    el = _Elements(words, rendered)
    nets = []
    for n in words.intent.networks:
        nets.append({"name": n.name, "id": n.id, "interfaces": list(n.facts.interfaces),
                     "subnets": list(n.subnets),
                     "facts": [_fact(f, seen, el.of(n, f)) for f in words.facts(n)]})
    return {"backend": backend, "enabled": words.intent.enabled, "others": others,
            "forward": [_fact(f, seen, []) for f in words.policy()],
            "networks": nets, "user_rules": [_fact(f, seen, []) for f in words.user_facts()],
            "drift": drift}


class _Elements:
    """The nft set elements that make the shared rules act for one network's fact."""

    def __init__(self, words: IntentWords, rs: Ruleset | None):
        self.words, self.rs = words, rs

    def _pick(self, family: str, name: str, keep) -> list[str]:
        if self.rs is None:
            return []
        spec = self.rs.set_spec((family, name))
        got = sorted((e for e in self.rs.elements.get((family, name), ()) if keep(e)), key=repr)
        return [f"{family} @{name}: {element_text(spec, e)}" for e in got]

    def of(self, n: NetworkIntent, fact: Fact) -> list[str]:
        ifs = set(n.facts.interfaces)
        ports = {e.host_ifname for e in self.words.intent.endpoints if e.network_id == n.id}
        if why.LINK in fact.reasons and fact.ref:
            a, b = fact.ref.split(">")
            return self._pick("inet", "links", lambda e: (e[0], e[1]) == (a, b))
        if why.DNAT in fact.reasons and fact.ref:
            proto, host, port = fact.ref.split(":")
            p = next(p for p in self.words.intent.ports if why.port_ref(p) == fact.ref)
            name = "dnat_any_addr" if host == "0.0.0.0" else "dnat_ip_addr"
            return self._pick("inet", name, lambda e: e[0][-2] == proto and
                              p.host_port <= e[0][-1] <= p.host_port_end and
                              (host == "0.0.0.0" or e[0][0] == host))
        if why.ICC_FALSE in fact.reasons:
            return self._pick("bridge", "icc_deny", lambda e: e in ports)
        if why.ICC_TRUE in fact.reasons:
            return self._pick("inet", "icc_bridges", lambda e: e in ifs)
        if why.INTERNAL in fact.reasons:
            return self._pick("inet", "internal", lambda e: e in ifs)
        if why.MASQUERADE in fact.reasons and n.facts.masquerade and not n.internal:
            return self._pick("inet", "masq_src", lambda e: _within(e, n))
        if why.SPOOF_IP in fact.reasons:
            return self._pick("bridge", "port_ip", lambda e: e[0] in ports)
        return []


def _within(prefix, n: NetworkIntent) -> bool:
    import ipaddress
    p = ipaddress.IPv4Network(f"{prefix.addr}/{prefix.length}")
    return any(p.overlaps(ipaddress.IPv4Network(s, strict=False)) for s in n.subnets)
