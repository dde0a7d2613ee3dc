"""The iptables backend: Docker's chain layout, for teaching `iptables -L -n`.

Chains (all fabric's own, jumped to from the built-in chains by one rule each, tagged
with the comment "fabric"):

  filter  FABRIC-FORWARD            from FORWARD: per-network rules, as Docker's FORWARD
          FABRIC-USER               user rules, first (DOCKER-USER)
          FABRIC-ISOLATION-STAGE-1  between networks and --internal (Docker's names)
          FABRIC-ISOLATION-STAGE-2
          FABRIC                    published ports and link pairs (Docker's DOCKER)
  nat     FABRIC                    from PREROUTING/OUTPUT for local addresses: DNAT
          FABRIC-POSTROUTING        masquerade, hairpin, 127.0.0.1 publishing
  raw     FABRIC-ANTISPOOF          from PREROUTING: forged sources, loopback guard

It is applied with `iptables-restore --noflush`: a chain declared in the input is
flushed and refilled, chains not named are left alone, and each table is one COMMIT,
so fabric's chains change atomically per table without touching anyone else's rules.
iptables-restore is a subprocess here because it *is* this backend's kernel interface:
iptables-nft's rule encoding (xt matches inside nft rules) is private to it, and
rules written any other way would make `iptables -L` and Docker's own calls fail.

Like Docker, this layout sees bridged traffic only through br_netfilter, so fabric turns
on nf_call_iptables on its bridges (per bridge, not the global sysctl). iptables cannot
see ARP, so forged ARP is stopped by the nftables backend only. The cost of a change
grows with the ruleset, as in Docker: that is the comparison bench/ measures.
"""

import ipaddress
import shlex
import subprocess
import threading

from fabric.errors import FabricError
from fabric.firewall import coexist, iptlisting, localnet, validate
from fabric.firewall import reasons as why
from fabric.firewall.backend import BOUND, FirewallBackend, FirewallState, KernelRule
from fabric.firewall.intent import FirewallIntent, UserRule
from fabric.firewall.reasons import PLUMBING, Why, link_ref, port_ref
from fabric.net import nsexec

TAG = "fabric"
CHAINS = {
    "raw": ["FABRIC-ANTISPOOF"],
    "filter": ["FABRIC-FORWARD", "FABRIC-USER", "FABRIC-ISOLATION-STAGE-1",
               "FABRIC-ISOLATION-STAGE-2", "FABRIC"],
    "nat": ["FABRIC", "FABRIC-POSTROUTING"],
}
# (table, built-in chain, match before the jump, target)
JUMPS = [
    ("raw", "PREROUTING", "", "FABRIC-ANTISPOOF"),
    ("filter", "FORWARD", "", "FABRIC-FORWARD"),
    ("nat", "PREROUTING", "-m addrtype --dst-type LOCAL ", "FABRIC"),
    ("nat", "OUTPUT", "-m addrtype --dst-type LOCAL ", "FABRIC"),
    ("nat", "POSTROUTING", "", "FABRIC-POSTROUTING"),
]


class IptablesError(FabricError):
    """iptables-restore refused fabric's rules."""


def _jump_rule(chain: str, match: str, target: str) -> str:
    return f"{chain} {match}-m comment --comment {TAG} -j {target}"


Line = tuple[str, Why]     # a rule in iptables-restore syntax, and why it is there


def render(intent: FirewallIntent) -> dict[str, list[str]]:
    """Per table, the rule lines (iptables-restore syntax) of fabric's chains."""
    return {t: [line for line, _ in lines] for t, lines in explained(intent).items()}


def explained(intent: FirewallIntent) -> dict[str, list[Line]]:
    """render(), each rule with why it is there (firewall show puts words and the
    kernel's counters beside each one, matched by its place in its chain)."""
    validate.intent(intent)
    nets = {n.id: n for n in intent.networks}
    return {"raw": _raw(intent, nets), "filter": _filter(intent, nets),
            "nat": _nat(intent, nets)}


def _raw(intent: FirewallIntent, nets: dict) -> list[Line]:
    raw: list[Line] = []
    remote: list[Line] = []
    for e in intent.endpoints:
        n = nets.get(e.network_id)
        if n is None or not n.facts.bridged:
            continue
        dev = f"-m physdev --physdev-in {e.host_ifname}"
        spoof = Why(why.SPOOF_IP, n.id)
        if e.host_ifname == n.facts.tunnel:
            # many containers behind one port: each one's pair lets its packets on
            remote.append((f"-A FABRIC-ANTISPOOF {dev} -s {e.ipv4}/32 -m mac --mac-source "
                           f"{e.mac} -j RETURN", spoof))
            continue
        raw.append((f"-A FABRIC-ANTISPOOF {dev} -m mac ! --mac-source {e.mac} -j DROP",
                    Why(why.SPOOF_MAC, n.id)))
        raw.append((f"-A FABRIC-ANTISPOOF {dev} ! -s {e.ipv4}/32 -j DROP", spoof))
    for n in intent.networks:
        for b in n.facts.interfaces:
            # route_localnet must not let a container reach the host's loopback services
            raw.append((f"-A FABRIC-ANTISPOOF -i {b} -d 127.0.0.0/8 -j DROP",
                        Why(why.LOOPBACK_GUARD, n.id)))
    raw += remote
    raw += [(f"-A FABRIC-ANTISPOOF -m physdev --physdev-in {n.facts.tunnel} -j DROP",
             Why(why.SPOOF_IP, n.id))
            for n in intent.networks if n.facts.bridged and n.facts.tunnel]
    return raw


def _filter(intent: FirewallIntent, nets: dict) -> list[Line]:
    flt: list[Line] = [(f"-A FABRIC-USER {_user(r)}", Why(why.USER_PREFIX, ref=r.id))
                       for r in intent.user_rules]
    flt.append(("-A FABRIC-USER -j RETURN", PLUMBING))
    for n in intent.networks:
        for b in n.facts.interfaces:
            flt += [(f"-A FABRIC-FORWARD -i {b} -j FABRIC-USER", PLUMBING),
                    (f"-A FABRIC-FORWARD -o {b} -j FABRIC-USER", PLUMBING)]
    flt.append(("-A FABRIC-FORWARD -j FABRIC-ISOLATION-STAGE-1", PLUMBING))
    for n in intent.networks:
        ifs = n.facts.interfaces
        for b in ifs:
            flt += [(f"-A FABRIC-FORWARD -o {b} -m conntrack --ctstate RELATED,ESTABLISHED "
                     "-j ACCEPT", Why(why.REPLY, n.id)),
                    (f"-A FABRIC-FORWARD -o {b} -j FABRIC", PLUMBING)]
        # within the network first (every in . out pair: one for a bridge), so what
        # goes on below is traffic leaving the network or coming into it
        icc = Why(why.ICC_TRUE if n.facts.icc else why.ICC_FALSE, n.id)
        flt += [(f"-A FABRIC-FORWARD -i {i} -o {o} -j {'ACCEPT' if n.facts.icc else 'DROP'}",
                 icc) for i in ifs for o in ifs]
        for b in ifs:
            if not n.internal:
                flt.append((f"-A FABRIC-FORWARD -i {b} ! -o {b} -j ACCEPT",
                            Why(why.OUTBOUND, n.id)))
                if not n.facts.icc:     # the network's containers on other hosts
                    flt += [(f"-A FABRIC-FORWARD -s {sp} -o {b} -j DROP",
                             Why(why.ICC_FALSE_SPAN, n.id)) for sp in n.facts.span]
                flt += [(f"-A FABRIC-FORWARD -s {u} -d {s} -o {b} -j ACCEPT",
                         Why(why.UNNAT, n.id)) for s in n.subnets for u in n.facts.unnatted]
            flt.append((f"-A FABRIC-FORWARD -o {b} -j DROP", Why(why.INBOUND, n.id)))

    # published connections may cross networks (as they could from anywhere); then
    # Docker's isolation, and its --internal rules
    flt.append(("-A FABRIC-ISOLATION-STAGE-2 -m conntrack --ctstate DNAT -j RETURN",
                Why(why.PUBLISHED)))
    for n in intent.networks:
        ifs = n.facts.interfaces
        for b in ifs:
            for s in n.subnets:
                if n.internal:
                    flt += [(f"-A FABRIC-ISOLATION-STAGE-1 ! -s {s} -o {b} -j DROP",
                             Why(why.INTERNAL, n.id)),
                            (f"-A FABRIC-ISOLATION-STAGE-1 -i {b} ! -d {s} -j DROP",
                             Why(why.INTERNAL, n.id))]
            flt += [(f"-A FABRIC-ISOLATION-STAGE-1 -i {b} -o {o} -j RETURN", PLUMBING)
                    for o in ifs if o != b]
            flt.append((f"-A FABRIC-ISOLATION-STAGE-1 -i {b} ! -o {b} "
                        "-j FABRIC-ISOLATION-STAGE-2", PLUMBING))
            flt.append((f"-A FABRIC-ISOLATION-STAGE-2 -o {b} -j DROP", Why(why.BETWEEN, n.id)))
    flt += [("-A FABRIC-ISOLATION-STAGE-1 -j RETURN", PLUMBING),
            ("-A FABRIC-ISOLATION-STAGE-2 -j RETURN", PLUMBING)]

    for lk in intent.links:
        ln = nets.get(lk.network_id)
        if ln is None:
            continue
        link = Why(why.LINK, ln.id, link_ref(lk))
        for i in ln.facts.interfaces:
            for o in ln.facts.interfaces:
                for proto, first, last in lk.ports:
                    flt.append((f"-A FABRIC -s {lk.consumer_ip}/32 -d {lk.target_ip}/32 "
                                f"-i {i} -o {o} -p {proto} -m {proto} "
                                f"--dport {_ports(first, last)} -j ACCEPT", link))
    for p in intent.ports:
        pn = nets.get(p.network_id)
        if pn is None or pn.internal:
            continue
        for o in pn.facts.interfaces:
            flt.append((f"-A FABRIC -d {p.container_ip}/32 -o {o} -p {p.proto} -m {p.proto} "
                        f"--dport {_ports(p.container_port, p.container_port_end)} "
                        f"-m conntrack --ctstate DNAT -j ACCEPT",
                        Why(why.PUBLISHED, pn.id, port_ref(p))))
    return flt


def _nat(intent: FirewallIntent, nets: dict) -> list[Line]:
    nat: list[Line] = []
    for p in intent.ports:
        n = nets.get(p.network_id)
        if n is None or n.internal:
            continue
        dst = "" if (p.host_ip or "0.0.0.0") == "0.0.0.0" else f"-d {p.host_ip}/32 "
        for h, c in validate.host_pairs(p):
            nat.append((f"-A FABRIC {dst}-p {p.proto} -m {p.proto} --dport {h} "
                        f"-j DNAT --to-destination {p.container_ip}:{c}",
                        Why(why.DNAT, n.id, port_ref(p))))

    for n in intent.networks:
        for b in n.facts.interfaces:
            nat.append((f"-A FABRIC-POSTROUTING -s 127.0.0.0/8 -o {b} -m conntrack "
                        "--ctstate DNAT -j MASQUERADE", Why(why.LOOPBACK_PUBLISH, n.id)))
            for s in n.subnets:
                s = str(ipaddress.IPv4Network(s, strict=False))
                nat.append((f"-A FABRIC-POSTROUTING -s {s} -o {b} -m conntrack --ctstate DNAT "
                            f"-j MASQUERADE", Why(why.HAIRPIN, n.id)))
        if not n.facts.masquerade or n.internal:
            continue
        masq = Why(why.MASQUERADE, n.id)
        for s in n.subnets:
            s = str(ipaddress.IPv4Network(s, strict=False))
            nat += [(f"-A FABRIC-POSTROUTING -s {s} -d {u} -j RETURN", Why(why.UNNAT, n.id))
                    for u in n.facts.unnatted]
            if len(n.facts.interfaces) == 1:    # Docker's own form
                nat.append((f"-A FABRIC-POSTROUTING -s {s} ! -o {n.facts.interfaces[0]} "
                            "-j MASQUERADE", masq))
                continue
            # one -o per rule: out of any of the network's interfaces is not leaving it
            nat += [(f"-A FABRIC-POSTROUTING -s {s} -o {b} -j RETURN", masq)
                    for b in n.facts.interfaces]
            nat.append((f"-A FABRIC-POSTROUTING -s {s} -j MASQUERADE", masq))
    return nat


def _ports(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}:{b}"


def _user(r: UserRule) -> str:
    parts = []
    if r.src:
        parts.append(f"-s {validate.cidr(r.src, 'rule')}")
    if r.dst:
        parts.append(f"-d {validate.cidr(r.dst, 'rule')}")
    if r.proto:
        parts.append(f"-p {r.proto}")
    if r.dport:
        parts.append(f"-m {r.proto} --dport {r.dport}")
    parts.append(f"-m comment --comment {shlex.quote('fabric-rule:' + r.id)}")
    parts.append(f"-j {r.action.upper()}")
    return " ".join(parts)


def restore_input(rules: dict[str, list[str]], missing_jumps: list[tuple]) -> str:
    out = []
    for table in ("raw", "filter", "nat"):
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in CHAINS[table]]
        for t, chain, match, target in missing_jumps:
            if t == table:
                out.append(f"-I {_jump_rule(chain, match, target)}")
        out += rules[table]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


class IptablesBackend(FirewallBackend):
    name = "iptables"

    def __init__(self, netns: str | None = None, docker_user: bool = True):
        # docker_user is accepted for symmetry and unused: this backend's ACCEPTs sit
        # in the same FORWARD chain as Docker's policy, so they already count there
        super().__init__(netns)
        self._lock = threading.Lock()

    def apply(self, intent: FirewallIntent, netns=BOUND, *, force: bool = False) -> None:
        ns = self._ns(netns)
        if not intent.enabled:
            self.clear(ns)
            return
        rules = render(intent)
        with self._lock:
            nsexec.run(ns, self._apply_here, intent, rules)

    def describe(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        ns = self._ns(netns)
        if not intent.enabled:
            return [_in_ns(ns, "# (iptables off) fabric's chains are removed")]
        out = [_in_ns(ns, f"ip link set {b} type bridge nf_call_iptables 1")
               for b in _bridges(intent)]
        out += [_in_ns(ns, f"sysctl -w net.ipv4.conf.{b}.route_localnet=1")
                for b in sorted(localnet.wanted(intent))]
        body = restore_input(render(intent), JUMPS)
        out.append(_in_ns(ns, "iptables-restore --noflush") + " <<'EOF'\n" + body + "EOF")
        return out

    def clear(self, netns=BOUND) -> None:
        with self._lock:
            nsexec.run(self._ns(netns), _clear_here)

    def current(self, netns=BOUND) -> FirewallState:
        ns = self._ns(netns)
        return nsexec.run(ns, self._current_here, ns)

    def drift(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        rules = render(intent)
        return nsexec.run(self._ns(netns), _drift_here, rules)

    def rules(self, netns=BOUND) -> list[KernelRule]:
        return nsexec.run(self._ns(netns), iptlisting.rules, CHAINS)

    # --- inside the namespace -------------------------------------------------------

    def _apply_here(self, intent: FirewallIntent, rules: dict) -> None:
        _bridges_call_iptables(_bridges(intent))
        for b in localnet.wanted(intent):
            if localnet.read(b) == "0":
                localnet.write(b, "1")
        saved = _save()
        missing = [j for j in JUMPS if _jump_rule(j[1], j[2], j[3]) not in saved.rules[j[0]]]
        _restore(restore_input(rules, missing))

    def _current_here(self, ns) -> FirewallState:
        saved = _save()
        chains = saved.ours()
        st = FirewallState(self.name, ns, present=bool(chains))
        for table, chain in chains:
            st.objects.append(f"{table} {chain}")
            st.elements[f"{table} {chain}"] = saved.count(table, chain)
        import nftables  # read-only look at others' forward policies
        nft = nftables.Nftables()
        nft.set_json_output(True)
        st.warnings = [w for w in coexist.foreign_drops(nft) if "ip filter FORWARD" not in w]
        return st


def _bridges(intent: FirewallIntent) -> list[str]:
    return [b for n in intent.networks if n.facts.bridged for b in n.facts.interfaces]


def _in_ns(ns: str | None, cmd: str) -> str:
    if ns is None:
        return cmd
    return f"nsenter --net={ns} {cmd}" if ns.startswith("/") else f"ip netns exec {ns} {cmd}"


class _Saved:
    """iptables-save, per table: rules without their leading "-A " (so a jump compares
    with _jump_rule), and chain names."""

    def __init__(self, text: str):
        self.rules: dict[str, list[str]] = {t: [] for t in CHAINS}
        self.chains: dict[str, set[str]] = {t: set() for t in CHAINS}
        table = None
        for ln in text.splitlines():
            if ln.startswith("*"):
                table = ln[1:]
                self.rules.setdefault(table, [])
                self.chains.setdefault(table, set())
            elif table and ln.startswith("-A "):
                self.rules[table].append(ln[3:])
            elif table and ln.startswith(":"):
                self.chains[table].add(ln[1:].split()[0])

    def count(self, table: str, chain: str) -> int:
        return sum(1 for r in self.rules[table] if r.startswith(chain + " "))

    def ours(self) -> list[tuple[str, str]]:
        return [(t, c) for t, cs in CHAINS.items() for c in cs if c in self.chains[t]]


def _save() -> _Saved:
    p = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise IptablesError(f"iptables-save: {p.stderr.strip() or 'failed'}")
    return _Saved(p.stdout)


def _restore(text: str) -> None:
    p = subprocess.run(["iptables-restore", "--noflush", "--wait"], input=text,
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        first = next((ln for ln in p.stderr.splitlines() if ln.strip()), "failed")
        raise IptablesError(f"iptables-restore: {first.strip()}")


def _clear_here() -> None:
    saved = _save()
    lines: dict[str, list[str]] = {t: [] for t in CHAINS}
    for table, chain, match, target in JUMPS:
        rule = _jump_rule(chain, match, target)
        if rule in saved.rules[table]:
            lines[table].append(f"-D {rule}")
    # flush all before deleting any: our chains jump to one another
    for table, chain in saved.ours():
        lines[table].append(f"-F {chain}")
    for table, chain in saved.ours():
        lines[table].append(f"-X {chain}")
    text = "".join(f"*{t}\n" + "".join(ln + "\n" for ln in ls) + "COMMIT\n"
                   for t, ls in lines.items() if ls)
    if text:
        _restore(text)


def _drift_here(rules: dict) -> list[str]:
    saved = _save()
    out = []
    for table, chain, match, target in JUMPS:
        if _jump_rule(chain, match, target) not in saved.rules[table]:
            out.append(f"{table} {chain}: the jump to {target} is missing")
    have = set(saved.ours())
    for table, chains in CHAINS.items():
        for chain in chains:
            if (table, chain) not in have:
                out.append(f"{table} {chain} is missing")
                continue
            want = sum(1 for r in rules[table] if r.startswith(f"-A {chain} "))
            got = saved.count(table, chain)
            if want != got:
                out.append(f"{table} {chain}: {got} rules, expected {want}")
    return out


def _bridges_call_iptables(bridges: list[str]) -> None:
    """Have br_netfilter pass these bridges' frames to iptables even where
    net.bridge.bridge-nf-call-iptables is 0 (IFLA_BR_NF_CALL_IPTABLES, per bridge)."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:  # opened on this thread, so in the target namespace
        for b in bridges:
            idx = ipr.link_lookup(ifname=b)
            if idx:
                ipr.link("set", index=idx[0], kind="bridge", br_nf_call_iptables=1)
