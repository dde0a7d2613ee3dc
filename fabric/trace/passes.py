"""One namespace's stops into passes, and each pass into hops and an ending.

Splitting: the stream of one namespace is in the kernel's order, so a pass is a run
of stops of one packet (its direction says which: request, reply, error). A new one
starts when the direction changes, when a packet is made here (the output hook), or
when one arrives again after the last one left or was delivered. A tunnel's outer
packet (VXLAN: UDP to 4789 carrying the probe, recognised by the rule that traced
it) belongs to the inner pass beside it: the one before it, which it encapsulates,
or the one after it, which it carried in.

The trace's own chains sit at every hook, so the stops of those say where the
packet went (bridge port to port, up to the host, routed, delivered, out); the stops
of everyone else's chains are the filter and NAT verdicts on the way.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fabric.firewall import verdict_words
from fabric.firewall.intent_words import IntentWords
from fabric.trace import model
from fabric.trace.lookups import Kernel, Route
from fabric.trace.match import Match
from fabric.trace.model import Hop, Pass
from fabric.trace.ovs import Ovs
from fabric.trace.ovs_hops import OvsHops
from fabric.trace.packet import Packet
from fabric.trace.ruleset import Ruleset
from fabric.trace.walks import Stop, walk_hop

ARRIVALS = (("bridge", "prerouting"), ("inet", "prerouting"))
EXITS = (("inet", "postrouting"), ("bridge", "postrouting"))


@dataclass
class Group:
    direction: str
    inner: list[Stop] = field(default_factory=list)
    before: list[Stop] = field(default_factory=list)   # outer stops: came through a tunnel
    after: list[Stop] = field(default_factory=list)    # outer stops: left through one

    @property
    def done(self) -> bool:
        """The packet left or was delivered: what comes next is another arrival."""
        own = [s for s in self.inner if s.own]
        return bool(own) and (own[-1].at("inet", "input") or
                              any(own[-1].at(f, h) for f, h in EXITS))


def group(stops: list[Stop], match: Match, tunnel: Callable[[str | None], bool]
          ) -> list[Group]:
    """`tunnel(ifname)`: whether an interface is a tunnel's (a packet leaving through
    it comes back as the outer packet)."""
    out: list[Group] = []
    cur: Group | None = None
    outer: list[Stop] = []
    leaving = False     # outer stops now belong to `cur` (encapsulated), else to `outer`
    for s in stops:
        d = match.direction(s.pkt)
        if d is None:
            if not s.pkt.vxlan:
                continue
            # an outer packet made here (output) carries `cur` out; one arriving
            # (prerouting) carries the next group in; other hooks keep to the same
            if s.at("inet", "output"):
                leaving = cur is not None and _into_tunnel(cur, tunnel)
            elif s.at("inet", "prerouting"):
                leaving = False
            if leaving and cur is not None:
                cur.after.append(s)
            else:
                outer.append(s)
            continue
        leaving = False
        if cur is None or d != cur.direction or cur.after or _arrives(s, cur):
            cur = Group(d, before=outer)
            outer = []
            out.append(cur)
        cur.inner.append(s)
    return out


def _into_tunnel(g: Group, tunnel: Callable[[str | None], bool]) -> bool:
    # any own stop: br_netfilter's postrouting, last, names the bridge as the way out,
    # the bridge's own postrouting before it names the port (the tunnel device)
    return any(tunnel(s.oif) for s in g.inner if s.own)


def _arrives(s: Stop, cur: Group) -> bool:
    if not s.own:
        return False
    if s.at("inet", "output"):
        return True
    if s.at("bridge", "prerouting"):
        return True
    if s.at("inet", "prerouting"):
        own = [x for x in cur.inner if x.own]
        return not own or own[-1].family != "bridge" or cur.done
    return False


class Builder:
    """Hops of one namespace's passes; the kernel's lookups (routes, FDB) answer for
    that namespace."""

    def __init__(self, host: str, namespace: str, rules: Ruleset, kernel: Kernel,
                 words: IntentWords, subnets: dict[str, str] | None = None,
                 ovs: Ovs | None = None):
        self.host, self.namespace = host, namespace
        self.rules, self.kernel, self.words = rules, kernel, words
        self.subnets = subnets or {}    # a destination's subnet, to name a missing route
        self.ovs = OvsHops(self, ovs) if ovs is not None and ovs.running else None

    def passes(self, stops: list[Stop], match: Match) -> list[Pass]:
        return [self._pass(g, i) for i, g in enumerate(group(stops, match, self._tunnel))]

    def _tunnel(self, ifname: str | None) -> bool:
        return self.kernel.kind(ifname) == "vxlan"

    def hop(self, d: str, interface: str, stage: str, verdict: str, rule: str = "",
            reason: str = "", pkt: Packet | None = None) -> Hop:
        return Hop(self.host, self.namespace, interface, stage, verdict, rule, reason, d,
                   pkt.describe() if pkt else "")

    def _pass(self, g: Group, seq: int) -> Pass:
        p = self._walk(g, seq)
        if self.ovs is not None:
            first, last = g.inner[0], g.inner[-1]
            p.hops[:0] = self.ovs.arriving(p, first.pkt, first.iif)
            if p.fate == model.LEFT:
                p.hops += self.ovs.leaving(p, last.pkt, last.oif)
        return p

    def _walk(self, g: Group, seq: int) -> Pass:
        first = g.inner[0]
        p = Pass(self.host, self.namespace, g.direction, first.pkt.ttl, seq=seq,
                 origin=first.at("inet", "output"), decap=bool(g.before))
        if g.before:
            p.hops.append(self._decap(g))
            p.hops += [walk_hop(s, self.rules, self.words, self.host, self.namespace,
                                g.direction) for s in g.before if not s.own]
        last: Stop | None = None
        nat: Hop | None = None      # a NAT rule that matched: shown where its change shows
        for s in g.inner:
            if last is not None and _moved(last.pkt, s.pkt):
                p.hops.append(self._nat(g.direction, last, s, nat))
                nat = None
            last = s
            if s.own:
                hop = self._own(g, s)
                if hop is not None:
                    p.hops.append(hop)
                continue
            walk = walk_hop(s, self.rules, self.words, self.host, self.namespace,
                            g.direction)
            if walk.stage == "nat" and walk.rule and walk.verdict != "drop":
                nat = walk
                continue
            p.hops.append(walk)
            if walk.verdict == "drop":
                p.fate, p.reason = model.DROPPED, walk.reason
                return p
        if g.after:
            p.hops.append(self._encap(g))
            for s in g.after:
                if not s.own:
                    walk = walk_hop(s, self.rules, self.words, self.host, self.namespace,
                                    g.direction)
                    p.hops.append(walk)
                    if walk.verdict == "drop":
                        p.fate, p.reason = model.DROPPED, walk.reason
                        return p
        self._ending(p, g)
        return p

    # --- what the trace's own chains show ---------------------------------------------

    def _own(self, g: Group, s: Stop) -> Hop | None:
        d, pkt, k = g.direction, s.pkt, self.kernel
        if s.at("inet", "output"):
            r = k.route(pkt.dst)
            return self.hop(d, s.oif or "", "route", "send", r.text,
                            f"made by {self._who()}", pkt)
        if s.at("bridge", "forward") or s.at("bridge", "output"):
            return self._bridged(d, s)
        if s.at("bridge", "input"):
            br = k.master(s.iif) or "?"
            return self.hop(d, f"{self._port(s.iif)} -> {br}", "bridge", "up",
                            f"{pkt.dst_mac} is {br}'s own MAC", "to the host: the "
                            "gateway's MAC", pkt)
        if s.at("inet", "forward"):
            if self._bridged_before(g, s):
                return None     # br_netfilter's view of a bridged frame, not routing
            r = k.route(pkt.dst, pkt.src, s.iif)
            return self.hop(d, f"{s.iif} -> {s.oif}", "route", "forward", r.text,
                            self._route_words(r), pkt)
        if s.at("inet", "input"):
            # loopback's own traffic has no incoming route to ask about
            r = k.route(pkt.dst, pkt.src, s.iif) if s.iif != "lo" else k.route(pkt.dst)
            return self.hop(d, s.iif or "", "route", "deliver", r.text,
                            f"delivered to {self._who()}", pkt)
        return None

    def _who(self) -> str:
        return f"host {self.host}" if self.namespace == "host" else self.namespace

    def _port(self, ifname: str | None) -> str:
        owner = self.words.port_owner(ifname)
        return f"{ifname} ({owner})" if owner else (ifname or "?")

    def _bridged(self, d: str, s: Stop) -> Hop:
        k, pkt = self.kernel, s.pkt
        out = s.oif
        br = k.master(out) or s.iif or "?"
        port = k.bridge_port(br, pkt.dst_mac)
        entry = f"fdb {pkt.dst_mac} dev {port or '?'} master {br}" if port else \
            f"no fdb entry for {pkt.dst_mac} on {br}: flooded"
        if k.kind(out) == "vxlan":
            reason = f"into the VXLAN device {out}"
        elif self.words.port_owner(out):
            reason = f"to {self.words.port_owner(out)}'s port on {br}"
        else:
            reason = f"out of {out} on {br}"
        src = self._port(s.iif) if s.at("bridge", "forward") else br
        return self.hop(d, f"{src} -> {self._port(out)}", "bridge", "forward", entry,
                        reason, pkt)

    def _bridged_before(self, g: Group, s: Stop) -> bool:
        own = [x for x in g.inner[:g.inner.index(s)] if x.own]
        return bool(own) and own[-1].at("bridge", "forward")

    def _route_words(self, r: Route) -> str:
        return self.words.describe_route(r.dst, r.gateway, r.dev, r.proto)

    # --- NAT and tunnels ----------------------------------------------------------------

    def _nat(self, d: str, before: Stop, after: Stop, rule: Hop | None) -> Hop:
        was, now = before.pkt, after.pkt
        parts = []
        if (was.dst, was.dport) != (now.dst, now.dport):
            parts.append(("dnat", f"{_ep(was.dst, was.dport)} -> {_ep(now.dst, now.dport)}"))
        if (was.src, was.sport) != (now.src, now.sport):
            parts.append(("snat", f"{_ep(was.src, was.sport)} -> {_ep(now.src, now.sport)}"))
        verdict = "+".join(v for v, _ in parts)
        what = "; ".join(f"{v.upper()} {t}" for v, t in parts)
        if rule is not None:
            return replace(rule, verdict=verdict, rule=f"{what} by {rule.rule}",
                           reason=rule.reason or what, packet=now.describe())
        where = after.iif or before.iif or after.oif or ""
        return self.hop(d, where, "nat", verdict, f"{what} by conntrack",
                        "the answer of a NATed connection, translated back (conntrack)", now)

    def _encap(self, g: Group) -> Hop:
        outer = g.after[0].pkt
        own = [s for s in g.inner if s.own]
        dev = next((s.oif for s in reversed(own) if s.family == "bridge" and s.oif), None)
        inner = g.inner[-1].pkt
        vtep = self.kernel.vtep(dev or "", inner.dst_mac)
        entry = f"fdb {inner.dst_mac} dev {dev} dst {vtep}" if vtep else \
            f"VXLAN VNI {outer.vni} to {outer.dst}"
        leaves = next((s.oif for s in g.after if s.oif), "")
        return self.hop(g.direction, f"{dev} -> {leaves}", "encap", "encap", entry,
                        f"VXLAN VNI {outer.vni} to VTEP {self.words.who(outer.dst)}", outer)

    def _decap(self, g: Group) -> Hop:
        outer = g.before[0].pkt
        into = g.inner[0].iif
        return self.hop(g.direction, f"{g.before[0].iif} -> {into}", "decap", "decap",
                        f"VXLAN VNI {outer.vni} from {outer.src}",
                        f"from VTEP {self.words.who(outer.src)}", outer)

    # --- how the pass ended -------------------------------------------------------------

    def _ending(self, p: Pass, g: Group) -> None:
        own = [s for s in g.inner if s.own]
        last = own[-1] if own else g.inner[-1]
        pkt = last.pkt
        if g.after:
            p.fate = model.LEFT
        elif last.at("inet", "input"):
            p.fate, p.delivered = model.DELIVERED, True
        elif any(last.at(f, h) for f, h in EXITS):
            p.fate = model.LEFT
            self._unanswered(p, last)
        elif last.at("inet", "prerouting") or last.at("bridge", "input"):
            iif = last.iif if last.family == "inet" else self.kernel.master(last.iif)
            r = self.kernel.route(pkt.dst, pkt.src, iif)
            if r.error == "no route":
                p.fate = model.NO_ROUTE
                p.reason = verdict_words.no_route(self.subnets.get(pkt.dst, pkt.dst),
                                                  self.host)
            elif r.error:
                p.fate, p.reason = model.NO_ROUTE, f"{r.text} on host {self.host}"
            else:
                p.reason = (f"vanished on host {self.host} after its route was chosen "
                            f"({r.text})")
            p.hops.append(self.hop(p.direction, iif or "", "route",
                                   "drop" if r.error else "vanished", r.text, p.reason, pkt))
        elif last.at("bridge", "prerouting"):
            br = self.kernel.master(last.iif)
            p.reason = f"the bridge {br} on host {self.host} did not forward it"
        else:
            p.reason = f"vanished on host {self.host} after {last.family} {last.chain}"


    def _unanswered(self, p: Pass, last: Stop) -> None:
        """A packet that left through an interface whose next hop never answered ARP
        was queued there and dropped: it never left at all."""
        if last.family != "inet" or not last.oif:
            return
        nh = self.kernel.route(last.pkt.dst).gateway or last.pkt.dst
        if self.kernel.unanswered(last.oif, nh):
            p.fate = model.VANISHED
            p.reason = (f"no ARP answer from {self.words.container(nh)} on {last.oif} "
                        f"({self._who()} on host {self.host})")
            p.hops.append(self.hop(p.direction, last.oif, "route", "drop", f"neigh {nh} "
                                   f"dev {last.oif} INCOMPLETE/FAILED", p.reason, last.pkt))


def _moved(a: Packet, b: Packet) -> bool:
    return (a.src, a.sport, a.dst, a.dport) != (b.src, b.sport, b.dst, b.dport)


def _ep(addr: str, port: int | None) -> str:
    return f"{addr}:{port}" if port is not None else addr
