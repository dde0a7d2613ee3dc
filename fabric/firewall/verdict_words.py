"""Why one of fabric's rules dropped a packet, or let it through, in one line naming
fabric's intent.

`fabric trace` calls these through IntentWords.describe_drop and describe_pass with
what it saw of the probe and the comment of the rule that gave the verdict; fabric's
comments are its reasons (reasons.py).
"""

from fabric.firewall import reasons as why
from fabric.firewall.intent_words import IntentWords, Packet, said


def dropped(w: IntentWords, packet: Packet, comment: str | None, where: str) -> str:
    reason, rule_id = why.of_comment(comment)
    a, b = w.container(packet.src), w.container(packet.dst)
    what = f"{packet.proto}/{packet.dport}" if packet.dport else packet.proto
    if reason == why.USER_PREFIX:
        r = w.rule(rule_id or "")
        return f"dropped by {w.user_rule(r) if r else f'user rule {rule_id}'}"
    if reason in (why.ICC_FALSE, why.ICC_FALSE_NEW):
        return _icc(w, packet, reason, a, b, what)
    if reason == why.BETWEEN:
        na, nb = w.network(packet.src), w.network(packet.dst)
        return (f"dropped: {a} ({said(na)}) and {b} ({said(nb)}) are on different networks, "
                "which fabric keeps apart; publish a port or connect both to one network")
    if reason == why.INTERNAL:
        n = w.network(packet.iif) or w.network(packet.oif) or w.network(packet.src) or \
            w.network(packet.dst)
        return f"dropped: {said(n)} is internal: nothing goes in or out of it"
    if reason == why.INBOUND:
        return (f"dropped: {a} -> {b} {what} is neither a published port nor a reply "
                "(fabric's policy for traffic forwarded into its networks)")
    if reason in (why.SPOOF_MAC, why.SPOOF_IP, why.SPOOF_ARP):
        ep = w.endpoint(packet.iif or "")
        own = f"; its own are {ep.mac} and {ep.ipv4}" if ep else ""
        sender = w.container(packet.iif) if packet.iif else a
        return f"dropped: {reason} from {sender}{own}"
    if reason == why.LOOPBACK_GUARD:
        return (f"dropped: {a} may not reach the host's loopback 127.0.0.0/8 "
                "(route_localnet, CVE-2020-8558)")
    if where:
        return f"dropped by {where}, not a rule of fabric's"
    return f"dropped: {w.describe_rule(comment)}"


def _icc(w: IntentWords, packet: Packet, reason: str, a: str, b: str, what: str) -> str:
    n = w.network(packet.dst) or w.network(packet.src)
    head = f"dropped: icc=false on {said(n)}"
    links = w.links_between(packet.src, packet.dst)
    if not links:
        return f"{head}; containers {a} and {b} are not linked"
    if reason == why.ICC_FALSE_NEW:
        return f"{head}; {a} may answer {b} over their link, not open a connection to it"
    allowed = "; ".join(w.link(lk) for lk in links)
    return f"{head}; {what} is not what their link lets through ({allowed})"



def passed(w: IntentWords, packet: Packet, comment: str | None) -> str:
    reason, rule_id = why.of_comment(comment)
    a, b = w.container(packet.src), w.container(packet.dst)
    if reason == why.USER_PREFIX:
        r = w.rule(rule_id or "")
        return f"allowed by {w.user_rule(r) if r else f'user rule {rule_id}'}"
    if reason in (why.LINK, why.LINK_REPLY):
        links = w.links_between(packet.src, packet.dst)
        text = "; ".join(w.link(lk) for lk in links) or "a link"
        return f"allowed: {text}" + (" (a reply)" if reason == why.LINK_REPLY else "")
    if reason in (why.DNAT, why.PUBLISHED, why.HAIRPIN, why.LOOPBACK_PUBLISH):
        ports = [p for p in w.intent.ports if p.container_ip in (packet.src, packet.dst)]
        shown = "; ".join(w.port(p) for p in ports) or "a published port"
        return f"allowed: published port {shown}" if reason != why.DNAT else \
            f"DNAT: {shown}"
    if reason in (why.ICC_TRUE, why.ICC_TRUE_BRIDGED, why.ICC_TRUE_UNTRACKED):
        return f"allowed: icc=true on {said(w.network(packet.src) or w.network(packet.dst))}"
    if reason == why.MASQUERADE:
        return f"masqueraded: {a} leaving {said(w.network(packet.src))}"
    if reason == why.OUTBOUND:
        return f"allowed: {a} reaching out of {said(w.network(packet.src))}"
    if reason == why.REPLY:
        return f"allowed: a reply ({a} -> {b})"
    return f"{w.describe_rule(comment)}"
