"""Why one of fabric's rules dropped a packet, or let it through, in one line naming
fabric's intent; and what the rest of the way said (a missing route, someone else's
drop).

`fabric trace` calls these through IntentWords.describe_seen (a rule it saw the probe
meet in the kernel), describe_drop and describe_pass (a rule by its comment) with what
it saw of the probe; fabric's comments are its reasons (reasons.py).
"""

from fabric.firewall import reasons as why
from fabric.firewall.intent import NetworkIntent, PortIntent
from fabric.firewall.intent_words import IntentWords, Packet, SeenRule, said
from fabric.firewall.reasons import Why, port_ref


def seen(w: IntentWords, packet: Packet, rule: SeenRule, verdict: str | None) -> str:
    reason = w.why(rule)
    if reason is None:
        return dropped(w, packet, None, foreign(rule)) if verdict == "drop" else ""
    if verdict == "drop" and reason.reason is None:
        # fabric's drops all carry a reason: this chain is not as fabric rendered it
        return (f"dropped by {rule.family} {rule.table} {rule.chain} rule {rule.index} "
                f"({rule.text}), fabric's chain but not as fabric renders it (`fabric "
                "doctor --fix` renders it again)")
    if verdict == "drop":
        return _dropped(w, packet, reason, "")
    if reason.reason is None:
        return _plumbing(w, packet, rule, verdict)
    return _passed(w, packet, reason)


def foreign(rule: SeenRule) -> str:
    """Someone else's rule (Docker's, ufw's, a hand-made one), named for the drop line."""
    where = f"{rule.family} {rule.table} {rule.chain}"
    if rule.index is not None:
        return f"{where} rule {rule.index} ({rule.text})"
    hint = " (Docker's FORWARD DROP? `fabric doctor` says)" if rule.chain == "FORWARD" else ""
    return f"{where} policy drop{hint}"


def no_route(dst: str, host: str) -> str:
    """A router without a route for the packet: `dst` is the destination's subnet when
    the caller knows it ("no route to 10.44.3.0/24 on host r2")."""
    return f"no route to {dst} on host {host}"


def dropped(w: IntentWords, packet: Packet, comment: str | None, where: str) -> str:
    reason, rule_id = why.of_comment(comment)
    return _dropped(w, packet, Why(reason, None, rule_id), where)


def _dropped(w: IntentWords, packet: Packet, reason: Why, where: str) -> str:
    key = reason.reason
    a, b = w.container(packet.src), w.container(packet.dst)
    what = f"{packet.proto}/{packet.dport}" if packet.dport else packet.proto
    if key == why.USER_PREFIX:
        return f"dropped by {_user(w, reason.ref)}"
    if key in (why.ICC_FALSE, why.ICC_FALSE_NEW):
        return _icc(w, packet, reason, a, b, what)
    if key == why.BETWEEN:
        na, nb = w.network(packet.src), w.network(packet.dst)
        return (f"dropped: {a} ({said(na)}) and {b} ({said(nb)}) are on different networks, "
                "which fabric keeps apart; publish a port or connect both to one network")
    if key == why.INTERNAL:
        n = _net(w, reason, packet.iif, packet.oif, packet.src, packet.dst)
        return f"dropped: {said(n)} is internal: nothing goes in or out of it"
    if key == why.INBOUND:
        return (f"dropped: {a} -> {b} {what} is neither a published port nor a reply "
                "(fabric's policy for traffic forwarded into its networks)")
    if key in (why.SPOOF_MAC, why.SPOOF_IP, why.SPOOF_ARP):
        ep = w.endpoint(packet.iif or "")
        own = f"; its own are {ep.mac} and {ep.ipv4}" if ep else ""
        sender = w.container(ep.host_ifname) if ep else a
        return f"dropped: {key} from {sender}{own}"
    if key == why.LOOPBACK_GUARD:
        return (f"dropped: {a} may not reach the host's loopback 127.0.0.0/8 "
                "(route_localnet, CVE-2020-8558)")
    if where:
        return f"dropped by {where}, not a rule of fabric's"
    return f"dropped: {w.describe_rule(key)}"


def _icc(w: IntentWords, packet: Packet, reason: Why, a: str, b: str, what: str) -> str:
    n = _net(w, reason, packet.dst, packet.src)
    head = f"dropped: icc=false on {said(n)}"
    links = w.links_between(packet.src, packet.dst)
    if not links:
        return f"{head}; containers {a} and {b} are not linked"
    if reason.reason == why.ICC_FALSE_NEW and not any(
            (lk.consumer_ip, lk.target_ip) == (packet.src, packet.dst) for lk in links):
        return f"{head}; {a} may answer {b} over their link, not open a connection to it"
    allowed = "; ".join(w.link(lk) for lk in links)
    return f"{head}; {what} is not what their link lets through ({allowed})"


def _user(w: IntentWords, rule_id: str | None) -> str:
    r = w.rule(rule_id or "")
    return w.user_rule(r) if r else f"user rule {rule_id}, no longer in the store"


def passed(w: IntentWords, packet: Packet, comment: str | None) -> str:
    reason, rule_id = why.of_comment(comment)
    return _passed(w, packet, Why(reason, None, rule_id))


def _passed(w: IntentWords, packet: Packet, reason: Why) -> str:
    key = reason.reason
    a, b = w.container(packet.src), w.container(packet.dst)
    if key == why.USER_PREFIX:
        return f"allowed by {_user(w, reason.ref)}"
    if key in (why.LINK, why.LINK_REPLY):
        links = w.links_between(packet.src, packet.dst)
        text = "; ".join(w.link(lk) for lk in links) or "a link"
        return f"allowed: {text}" + (" (a reply)" if key == why.LINK_REPLY else "")
    if key in (why.DNAT, why.PUBLISHED, why.HAIRPIN, why.LOOPBACK_PUBLISH):
        port = _port(w, packet, reason.ref)
        shown = f"published port {w.port(port)}" if port else "a published port"
        return {why.DNAT: f"DNAT: {shown}",
                why.PUBLISHED: f"allowed: {shown}",
                why.HAIRPIN: f"hairpin: {a} reaching {shown} from its own network is "
                             "masqueraded, so the answer comes back through the host",
                }.get(key, f"masqueraded: {shown}, reached through 127.0.0.1")
    if key in (why.ICC_TRUE, why.ICC_TRUE_BRIDGED, why.ICC_TRUE_UNTRACKED):
        return f"allowed: icc=true on {said(_net(w, reason, packet.src, packet.dst))}"
    if key == why.ICC_FALSE_SPAN:
        return (f"from {said(_net(w, reason, packet.dst))}'s containers on another host: "
                "icc=false holds for them too")
    if key == why.MASQUERADE:
        return f"masqueraded: {a} leaving {said(_net(w, reason, packet.src))}"
    if key == why.OUTBOUND:
        return f"allowed: {a} leaving {said(_net(w, reason, packet.src))}"
    if key == why.UNNAT:
        return (f"allowed: from {w.who(packet.src)}, a subnet "
                f"{said(_net(w, reason, packet.dst))} reaches without NAT")
    if key == why.REPLY:
        return f"allowed: a reply ({a} -> {b})"
    return w.describe_rule(key)


def _net(w: IntentWords, reason: Why, *keys: str | None) -> NetworkIntent | None:
    """The network a rule acts for: the one its reason names (every iptables rule is
    one network's), else the first found behind the packet's addresses or
    interfaces."""
    n = w.nets.get(reason.network or "")
    return n or next((m for m in map(w.network, keys) if m is not None), None)


def _port(w: IntentWords, packet: Packet, ref: str | None) -> PortIntent | None:
    """The published port a rule acted for: the one its reason names (iptables'), or
    the one the packet is for."""
    return next((p for p in w.intent.ports if port_ref(p) == ref), None) or \
        w.published(packet.dst, packet.dport) or \
        next((p for p in w.intent.ports if p.container_ip == packet.src), None)


def _plumbing(w: IntentWords, packet: Packet, rule: SeenRule, verdict: str | None) -> str:
    """fabric's nft rules that let a packet on without a reason of their own: the
    bridge table's checks that an honest frame passes."""
    if rule.family != "bridge" or verdict != "accept":
        return ""
    if rule.chain == "prerouting" and "port_ip" in rule.sets:
        return f"{w.who(packet.src)} sends from its own MAC and address (anti-spoofing)"
    if rule.chain == "prerouting" and "ports" in rule.sets:
        return "not from a container's port: no anti-spoofing to do"
    if rule.chain == "icc" and "arp" in rule.text:
        return "ARP always passes icc=false"
    return ""
