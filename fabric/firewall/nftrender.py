"""FirewallIntent -> fabric's two nftables tables, as data (pure, no kernel access).

`bridge fabric` polices frames at layer 2, where icc=false traffic really travels: a
bridge forwards frames between its ports without routing them, so an IP-level rule sees
them only when br_netfilter is on. Anti-spoofing sits in its prerouting chain at -300,
before br_netfilter (0) hands IPv4 frames to conntrack and iptables; icc in its forward
chain at -200, before br_netfilter's FORWARD call (-1). This kernel has no
nf_conntrack_bridge (`ct` in a bridge table fails with EPROTO), so the bridge table is
stateless: link pairs are let through forwards and their replies backwards (but not a
bare TCP SYN), and packets of published-port connections by a mark the inet table
sets after DNAT. Where
br_netfilter is on (its default in every namespace here, and always on a Docker host)
the inet table sees the same frames again with conntrack and is strict; where it is
off, nothing else sees them.

`inet fabric` holds routed traffic and NAT in one table of one family: one object to
own and replace, IPv6 can join the same chains later, and kernels >= 5.2 do NAT in
inet. A separate `ip fabric-nat` table would buy nothing but a second name to clean.

Every per-link, per-endpoint and per-port fact is a set or map element, so a packet
costs one hash/interval lookup whatever the number of links and ports, and a change of
links or ports only changes elements (see nft.py).
"""

import functools
import ipaddress

from fabric.firewall import nftexpr as nx
from fabric.firewall import reasons as why
from fabric.firewall import validate
from fabric.firewall.intent import FirewallIntent, UserRule
from fabric.firewall.ruleset import (
    ChainSpec,
    Prefix,
    Prio,
    Ruleset,
    RuleSpec,
    SetSpec,
)

TABLE = "fabric"
BRIDGE = "bridge"
INET = "inet"

# One bit of the packet mark says "fabric's firewall accepted this forwarded packet",
# for the one rule fabric keeps in Docker's DOCKER-USER chain (coexist.py). It is
# OR-ed in, so other software's bits (kube-proxy 0x4000/0x8000, Weave 0x20000/0x40000,
# Cilium 0x0f00) survive.
ACCEPT_MARK = 0x00100000
# Another says "this packet belongs to a DNATed connection" (a published port), for
# the bridge table, which cannot read conntrack itself.
PUBLISHED_MARK = 0x00200000

# Named hook priorities. Bridge family: nft's "filter" is -200; br_netfilter runs at 0.
BR_GUARD = Prio(-300, "-300")          # before conntrack/iptables via br_netfilter
BR_FILTER = Prio(-200, "filter")
RAW = Prio(-300, "raw")
FILTER = Prio(-10, "filter - 10")      # before iptables' filter (0), to set the mark first
DSTNAT = Prio(-100, "dstnat")
AFTER_DNAT = Prio(-90, "dstnat + 10")
OUT_DSTNAT = Prio(-100, "-100")        # nft accepts the name "dstnat" in prerouting only
SRCNAT = Prio(100, "srcnat")

IP4 = "ipv4_addr"
LINK_TYPE = (IP4, IP4, "inet_proto", "inet_service")
DNAT_IP = (IP4, "inet_proto", "inet_service")    # host address . proto . host port
DNAT_ANY = ("inet_proto", "inet_service")         # proto . host port, any local address
LOOPBACK = Prefix("127.0.0.0", 8)


def render(intent: FirewallIntent, localnet: frozenset[str] = frozenset(),
           memo: validate.Memo | None = None) -> Ruleset:
    """The whole ruleset for an intent. `localnet` names the bridges whose
    route_localnet fabric switched on, kept in the table so a later apply can switch
    them back (nft.py). `memo` carries work over from the last render; it is updated
    only when this one succeeds."""
    memo = memo or validate.Memo()
    checked = validate.intent(intent, memo)
    rs = skeleton(intent.user_rules).copy()
    rs.elements, derived = elements(intent, localnet, memo, checked)
    memo.commit(checked, derived)
    return rs


@functools.lru_cache(maxsize=8)
def skeleton(user_rules: tuple[UserRule, ...]) -> Ruleset:
    """Tables, sets, chains and rules: a function of the user rules alone, so it is
    built (and digested) once and shared, never mutated."""
    rs = Ruleset(tables=[(BRIDGE, TABLE), (INET, TABLE)])
    _bridge_skeleton(rs, user_rules)
    _inet_skeleton(rs, user_rules)
    rs.digest = rs.skeleton_digest()
    return rs


def elements(intent: FirewallIntent, localnet: frozenset[str], memo: validate.Memo,
             checked: validate.Checked) -> tuple[dict, dict]:
    """(every set's and map's elements, the state to keep for next time). With the
    same networks as last time, links and ports are updated by what was added and
    removed, and the endpoint and network groups are reused when unchanged."""
    nets = {n.id: n for n in intent.networks}
    old = memo.derived if memo.derived.get("networks") == intent.networks else {}
    ch = checked.changes
    # Docker ignores -p on an --internal network, and so does fabric
    public = {i for i, n in nets.items() if not n.internal}
    new = {"networks": intent.networks,
           "links": _update(old.get("links"), ch["links"], nets, _link_elems),
           "ports": _update(old.get("ports"), ch["ports"], public, _port_elems)}
    eps = ch["endpoints"]
    new["endpoints"] = (old["endpoints"] if "endpoints" in old and not eps.added
                        and not eps.removed else _bridge_elements(intent, nets))
    new["nets"] = old.get("nets") or _network_elements(nets)

    el = dict(new["endpoints"])
    el.update(new["nets"])
    links = new["links"][1].get("links", frozenset())
    el[(BRIDGE, "links")] = el[(INET, "links")] = links
    for name in PORT_MAPS:
        el[(INET, name)] = new["ports"][1].get(name, frozenset())
    el[(INET, "localnet")] = frozenset(localnet)
    return el, new


def _update(state, change: validate.Change, keep, expand):
    """(element -> count, set name -> frozenset) for a collection's elements, which
    `expand` gives as (set name, element) pairs per object: updated by the change when
    there is a state, built whole otherwise. Counting keeps an element two objects
    share until both are gone."""
    if state is None:
        counts: dict = {}
        for o, v in zip(change.objs, change.vals):
            if o.network_id in keep:
                for e in expand(v):
                    counts[e] = counts.get(e, 0) + 1
        fresh: dict[str, set] = {}
        for name, e in counts:
            fresh.setdefault(name, set()).add(e)
        return counts, {k: frozenset(v) for k, v in fresh.items()}
    counts = dict(state[0])
    gone, new = set(), set()
    for o, v in change.removed:
        if o.network_id in keep:
            for e in expand(v):
                counts[e] -= 1
                if not counts[e]:
                    del counts[e]
                    gone.add(e)
    for o, v in change.added:
        if o.network_id in keep:
            for e in expand(v):
                counts[e] = counts.get(e, 0) + 1
                new.add(e)
    if not gone and not new:
        return state
    sets: dict[str, frozenset] = dict(state[1])
    for name in {n for n, _ in gone | new}:
        sets[name] = ((sets.get(name, frozenset()) - {e for n, e in gone if n == name})
                      | {e for n, e in new if n == name})
    return counts, sets


def _link_elems(expanded) -> list[tuple[str, tuple]]:
    return [("links", e) for e in expanded]


PORT_MAPS = ("dnat_ip_addr", "dnat_ip_port", "dnat_any_addr", "dnat_any_port")


def _port_elems(expanded) -> list[tuple[str, tuple]]:
    """A published port's map elements, as (map name, element)."""
    out: list[tuple[str, tuple]] = []
    for host, proto, h, ip, c in expanded:
        if host == "0.0.0.0":
            out += [("dnat_any_addr", ((proto, h), ip)), ("dnat_any_port", ((proto, h), c))]
        else:
            key = (host, proto, h)
            out += [("dnat_ip_addr", (key, ip)), ("dnat_ip_port", (key, c))]
    return out


def _prefixes(subnets) -> list[Prefix]:
    nets = ipaddress.collapse_addresses(ipaddress.IPv4Network(s, strict=False)
                                        for s in subnets)
    return [Prefix(str(n.network_address), n.prefixlen) for n in nets]


# --- bridge fabric ---------------------------------------------------------------------

BRIDGE_SETS = [
    SetSpec(BRIDGE, "ports", ("ifname",)),                       # containers' host veths
    SetSpec(BRIDGE, "port_mac", ("ifname", "ether_addr")),       # ... with their MAC
    SetSpec(BRIDGE, "port_ip", ("ifname", "ether_addr", IP4)),   # ... and address
    SetSpec(BRIDGE, "icc_deny", ("ifname",)),                    # ports of icc=false networks
    # the same two facts for the endpoints of icc=true, non-internal networks only
    SetSpec(BRIDGE, "icc_port_ip", ("ifname", "ether_addr", IP4)),
    SetSpec(BRIDGE, "icc_dst", ("ether_addr", IP4)),
    SetSpec(BRIDGE, "links", LINK_TYPE, ("interval",)),          # consumer . target . proto . port
]


def _bridge_elements(intent, nets) -> dict:
    # only bridge ports pass the bridge table; routed interfaces never appear there
    eps = [e for e in intent.endpoints
           if e.network_id in nets and nets[e.network_id].facts.bridged]
    open_ = [e for e in eps
             if nets[e.network_id].facts.icc and not nets[e.network_id].internal]
    # a network's tunnel is a checked port even while no remote endpoint is listed on
    # it: then every frame arriving through it is dropped
    tunnels = [n for n in nets.values() if n.facts.bridged and n.facts.tunnel]
    f = BRIDGE
    return {
        (f, "ports"): frozenset(e.host_ifname for e in eps) |
        {n.facts.tunnel for n in tunnels},
        (f, "port_mac"): frozenset((e.host_ifname, e.mac) for e in eps),
        (f, "port_ip"): frozenset((e.host_ifname, e.mac, e.ipv4) for e in eps),
        (f, "icc_deny"): frozenset(e.host_ifname for e in eps
                                   if not nets[e.network_id].facts.icc) |
        {n.facts.tunnel for n in tunnels if not n.facts.icc},
        (f, "icc_port_ip"): frozenset((e.host_ifname, e.mac, e.ipv4) for e in open_),
        (f, "icc_dst"): frozenset((e.mac, e.ipv4) for e in open_),
    }


def _bridge_skeleton(rs: Ruleset, user_rules) -> None:
    f = BRIDGE
    rs.sets += BRIDGE_SETS
    rs.chains += [ChainSpec(f, "prerouting", "filter", "prerouting", BR_GUARD),
                  ChainSpec(f, "forward", "filter", "forward", BR_FILTER),
                  ChainSpec(f, "user"), ChainSpec(f, "icc")]
    iif, oif = nx.meta("iifname"), nx.meta("oifname")
    esrc = nx.payload("ether", "saddr")
    r = _rules(rs, f)
    # anti-spoofing: a frame from a container's port carries that container's MAC, and
    # for IPv4 and ARP its address; other ether types (VLAN tags...) are not let in.
    # An honest IPv4 frame, nearly every frame, is done after two or three lookups.
    port_ip = nx.match(nx.concat(iif, esrc, nx.payload("ip", "saddr")), nx.ref("port_ip"))
    # Container to container, straight across the bridge of an icc=true, non-internal
    # network (sender and receiver both its endpoints by MAC and address, the sender's
    # port checked too): allowed whatever its state and never NATed, so the conntrack
    # br_netfilter would run next is skipped. Frames for the gateway's MAC (routed:
    # published ports, hairpin and their masqueraded replies, other networks, outbound)
    # stay tracked, and so does icc=false traffic, whose link replies need it.
    r("prerouting", nx.match(nx.concat(nx.payload("ether", "daddr"), nx.payload("ip", "daddr")),
                             nx.ref("icc_dst")),
      nx.match(nx.concat(iif, esrc, nx.payload("ip", "saddr")), nx.ref("icc_port_ip")),
      nx.notrack(), nx.ACCEPT, comment=why.ICC_TRUE_BRIDGED)
    r("prerouting", port_ip, nx.ACCEPT)
    r("prerouting", nx.match(iif, nx.ref("ports"), "!="), nx.ACCEPT)
    r("prerouting", nx.match(nx.concat(iif, esrc), nx.ref("port_mac"), "!="), nx.DROP,
      comment=why.SPOOF_MAC)
    r("prerouting", nx.match(nx.payload("ether", "type"), nx.anon_set("arp", "ip6"), "!="),
      nx.DROP, comment=why.SPOOF_IP)
    r("prerouting", nx.match(nx.concat(iif, nx.payload("arp", "saddr ether"),
                                       nx.payload("arp", "saddr ip")),
                             nx.ref("port_ip"), "!="), nx.DROP, comment=why.SPOOF_ARP)

    r("forward", nx.verdict("jump", "user"))
    r("forward", nx.match(iif, nx.ref("icc_deny")), nx.match(oif, nx.ref("icc_deny")),
      nx.verdict("jump", "icc"))
    for rule in user_rules:
        r("user", *_user_stmts(rule, bridge=True), comment=_user_comment(rule))

    l4, saddr, daddr = nx.meta("l4proto"), nx.payload("ip", "saddr"), nx.payload("ip", "daddr")
    dport, sport = nx.payload("th", "dport"), nx.payload("th", "sport")
    r("icc", nx.match(nx.payload("ether", "type"), nx.lit("arp")), nx.ACCEPT)
    r("icc", nx.match(nx.concat(saddr, daddr, l4, dport), nx.ref("links")), nx.ACCEPT,
      comment=why.LINK)
    # A published port reached through the host's address from the same network is
    # routed, unless br_netfilter bridges it straight across after DNAT; the inet
    # table marked such packets in prerouting (the bridge cannot read conntrack).
    r("icc", nx.match(nx.bitand_int(nx.meta("mark"), PUBLISHED_MARK), nx.lit(PUBLISHED_MARK)),
      nx.ACCEPT, comment=why.PUBLISHED)
    # No conntrack here: replies come back from the linked port. A bare SYN from there
    # would be a new connection the other way, so it stops first.
    r("icc", nx.match(nx.bitand(nx.payload("tcp", "flags"), ["syn", "ack"]), nx.lit("syn")),
      nx.DROP, comment=why.ICC_FALSE_NEW)
    r("icc", nx.match(nx.concat(daddr, saddr, l4, sport), nx.ref("links")), nx.ACCEPT,
      comment=why.LINK_REPLY)
    r("icc", nx.DROP, comment=why.ICC_FALSE)


# --- inet fabric -------------------------------------------------------------------------

# The interface sets keep the names of the bridge-only days: for a bridge network the
# one interface is its bridge, and the elements are what they always were.
INET_SETS = [
    SetSpec(INET, "bridges", ("ifname",)),                   # every network's interfaces
    SetSpec(INET, "same_bridge", ("ifname", "ifname")),      # in . out, one network's
    SetSpec(INET, "icc_bridges", ("ifname",)),
    SetSpec(INET, "icc_same", ("ifname", "ifname")),         # in . out, icc=true
    SetSpec(INET, "internal", ("ifname",)),
    SetSpec(INET, "links", LINK_TYPE, ("interval",)),
    SetSpec(INET, "masq_src", (IP4,), ("interval",)),        # subnets masqueraded outbound
    SetSpec(INET, "hairpin", ("ifname", IP4), ("interval",)),  # interface . its subnets
    SetSpec(INET, "unnat", (IP4, IP4), ("interval",)),       # subnet . subnet it reaches as is
    # interface . whole subnet of an icc=false network spanning hosts
    SetSpec(INET, "span_deny", ("ifname", IP4), ("interval",)),
    SetSpec(INET, "localnet", ("ifname",)),                  # route_localnet fabric set
    SetSpec(INET, "dnat_ip_addr", DNAT_IP, (), (IP4,)),
    SetSpec(INET, "dnat_ip_port", DNAT_IP, (), ("inet_service",)),
    SetSpec(INET, "dnat_any_addr", DNAT_ANY, (), (IP4,)),
    SetSpec(INET, "dnat_any_port", DNAT_ANY, (), ("inet_service",)),
]


def _network_elements(nets) -> dict:
    f = INET
    ns = nets.values()

    def ifs(pick=lambda n: True) -> frozenset:
        return frozenset(i for n in ns if pick(n) for i in n.facts.interfaces)

    def pairs(pick=lambda n: True) -> frozenset:
        # (in, out) within one network: one pair for a bridge; a network with an
        # interface per container pays the square of their number
        return frozenset((i, o) for n in ns if pick(n)
                         for i in n.facts.interfaces for o in n.facts.interfaces)

    return {
        (f, "bridges"): ifs(),
        (f, "same_bridge"): pairs(),
        (f, "icc_bridges"): ifs(lambda n: n.facts.icc),
        (f, "icc_same"): pairs(lambda n: n.facts.icc),
        (f, "internal"): ifs(lambda n: n.internal),
        (f, "masq_src"): frozenset(_prefixes(
            s for n in ns if n.facts.masquerade and not n.internal for s in n.subnets)),
        (f, "hairpin"): frozenset((i, pre) for n in ns for pre in _prefixes(n.subnets)
                                  for i in n.facts.interfaces),
        (f, "unnat"): frozenset((a, b) for n in ns if not n.internal
                                for a in _prefixes(n.subnets)
                                for b in _prefixes(n.facts.unnatted)),
        (f, "span_deny"): frozenset((i, pre) for n in ns if not n.facts.icc
                                    for pre in _prefixes(n.facts.span)
                                    for i in n.facts.interfaces),
    }


def _inet_skeleton(rs: Ruleset, user_rules) -> None:
    f = INET
    rs.sets += INET_SETS
    rs.chains += [ChainSpec(f, "guard", "filter", "prerouting", RAW),
                  ChainSpec(f, "forward", "filter", "forward", FILTER),
                  ChainSpec(f, "user"), ChainSpec(f, "intra"), ChainSpec(f, "allow"),
                  ChainSpec(f, "prerouting", "nat", "prerouting", DSTNAT),
                  ChainSpec(f, "published", "filter", "prerouting", AFTER_DNAT),
                  ChainSpec(f, "output", "nat", "output", OUT_DSTNAT),
                  ChainSpec(f, "publish"),
                  ChainSpec(f, "postrouting", "nat", "postrouting", SRCNAT)]
    iif, oif = nx.meta("iifname"), nx.meta("oifname")
    saddr, daddr = nx.payload("ip", "saddr"), nx.payload("ip", "daddr")
    l4, dport = nx.meta("l4proto"), nx.payload("th", "dport")
    dnat = nx.match(nx.ct("status"), nx.flags("dnat"), "in")
    allow = nx.verdict("goto", "allow")
    r = _rules(rs, f)

    # route_localnet lets 127.0.0.1 be DNATed onto a bridge; it must not also let a
    # container reach the host's loopback services through it (CVE-2020-8558)
    r("guard", nx.match(daddr, nx.prefix(*LOOPBACK)), nx.match(iif, nx.ref("bridges")),
      nx.DROP, comment=why.LOOPBACK_GUARD)
    r("guard", nx.match(saddr, nx.prefix(*LOOPBACK)), nx.match(iif, nx.ref("bridges")),
      nx.DROP, comment=why.LOOPBACK_GUARD)

    r("forward", nx.match(iif, nx.ref("bridges"), "!="), nx.match(oif, nx.ref("bridges"), "!="),
      nx.ACCEPT, comment=why.NOT_FABRIC)
    r("forward", nx.verdict("jump", "user"))
    r("forward", nx.match(nx.ct("state"), nx.flags("untracked"), "in"),
      nx.match(nx.concat(iif, oif), nx.ref("icc_same")), allow, comment=why.ICC_TRUE_UNTRACKED)
    r("forward", nx.match(nx.ct("state"), nx.flags("established", "related"), "in"), allow,
      comment=why.REPLY)
    r("forward", nx.match(nx.concat(iif, oif), nx.ref("same_bridge")),
      nx.verdict("goto", "intra"))
    r("forward", nx.match(iif, nx.ref("internal")), nx.DROP, comment=why.INTERNAL)
    r("forward", nx.match(oif, nx.ref("internal")), nx.DROP, comment=why.INTERNAL)
    r("forward", nx.match(oif, nx.ref("bridges")), dnat, allow, comment=why.PUBLISHED)
    r("forward", nx.match(iif, nx.ref("bridges")), nx.match(oif, nx.ref("bridges")), nx.DROP,
      comment=why.BETWEEN)
    r("forward", nx.match(iif, nx.ref("bridges")), allow, comment=why.OUTBOUND)
    # routed in from the network's own containers on another host: icc=false holds
    r("forward", nx.match(nx.concat(oif, saddr), nx.ref("span_deny")),
      nx.verdict("goto", "intra"), comment=why.ICC_FALSE_SPAN)
    r("forward", nx.match(oif, nx.ref("bridges")), nx.match(nx.concat(daddr, saddr),
                                                             nx.ref("unnat")),
      allow, comment=why.UNNAT)
    r("forward", nx.DROP, comment=why.INBOUND)

    # same bridge in and out: bridged frames seen through br_netfilter, or a container
    # sending to another one through the gateway (which must not bypass icc=false)
    r("intra", nx.match(iif, nx.ref("icc_bridges")), allow, comment=why.ICC_TRUE)
    r("intra", dnat, allow, comment=why.PUBLISHED)
    r("intra", nx.match(nx.concat(saddr, daddr, l4, dport), nx.ref("links")), allow,
      comment=why.LINK)
    r("intra", nx.DROP, comment=why.ICC_FALSE)

    r("allow", nx.set_mark_or(ACCEPT_MARK), nx.ACCEPT)
    for rule in user_rules:
        r("user", *_user_stmts(rule, bridge=False), comment=_user_comment(rule))

    local = nx.match(nx.fib_daddr_type(), nx.lit("local"))
    r("prerouting", local, nx.verdict("jump", "publish"))
    r("output", local, nx.verdict("jump", "publish"))
    r("published", dnat, nx.set_mark_or(PUBLISHED_MARK))
    r("publish", nx.dnat_maps(nx.concat(daddr, l4, dport), "dnat_ip_addr", "dnat_ip_port"),
      comment=why.DNAT)
    r("publish", nx.match(nx.meta("nfproto"), nx.lit("ipv4")),
      nx.dnat_maps(nx.concat(l4, dport), "dnat_any_addr", "dnat_any_port"), comment=why.DNAT)

    r("postrouting", nx.match(oif, nx.ref("bridges")), nx.match(saddr, nx.prefix(*LOOPBACK)),
      dnat, nx.masquerade(), comment=why.LOOPBACK_PUBLISH)
    r("postrouting", dnat, nx.match(nx.concat(oif, saddr), nx.ref("hairpin")), nx.masquerade(),
      comment=why.HAIRPIN)
    r("postrouting", nx.match(saddr, nx.ref("masq_src")), nx.match(oif, nx.ref("bridges"), "!="),
      nx.match(nx.concat(saddr, daddr), nx.ref("unnat"), "!="),
      nx.masquerade(), comment=why.MASQUERADE)


# --- helpers ---------------------------------------------------------------------------

def _rules(rs: Ruleset, family: str):
    def add(chain: str, *stmts: nx.X, comment: str = "") -> None:
        if comment and comment != why.NOT_FABRIC:
            # Every rule with a reason counts what it decides, for `fabric firewall show`
            # (the twin of `iptables -L -n -v`): a per-CPU add, paid only by packets that
            # matched, measured within the packet figures' noise (bench/RESULTS.md).
            # Traffic that is not fabric's is not counted.
            stmts = (*stmts[:-1], nx.counter(), stmts[-1])
        rs.rules.append(RuleSpec(family, chain, tuple(stmts), comment))
    return add


def _user_stmts(rule: UserRule, bridge: bool) -> list[nx.X]:
    out = []
    if rule.src:
        out.append(nx.match(nx.payload("ip", "saddr"), _addr(rule.src)))
    if rule.dst:
        out.append(nx.match(nx.payload("ip", "daddr"), _addr(rule.dst)))
    if rule.proto:
        out.append(nx.match(nx.meta("l4proto"), nx.lit(rule.proto)))
    if rule.dport:
        out.append(nx.match(nx.payload("th", "dport"), nx.lit(rule.dport)))
    if rule.action == "accept":
        # accepted in the bridge: icc is skipped; in inet: marked like fabric's own
        out.append(nx.ACCEPT if bridge else nx.verdict("goto", "allow"))
    elif rule.action == "reject" and not bridge:
        out.append(nx.REJECT)
    else:
        # a bridge table cannot reject on this kernel (no CONFIG_NFT_BRIDGE_REJECT)
        out.append(nx.DROP)
    return out


def _addr(text: str) -> nx.X:
    net = validate.cidr(text, "firewall rule")
    if net.prefixlen == 32:
        return nx.lit(str(net.network_address))
    return nx.prefix(str(net.network_address), net.prefixlen)


def _user_comment(rule: UserRule) -> str:
    return why.user_comment(rule.id, rule.comment)
