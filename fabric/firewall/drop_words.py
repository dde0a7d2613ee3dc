"""Why one of fabric's rules dropped a packet, in one line naming fabric's intent.

`fabric trace` calls this through IntentWords.describe_drop with what it saw of the
probe and the comment of the rule whose verdict was drop; fabric's comments are its
reasons (reasons.py).
"""

from fabric.firewall import reasons as why
from fabric.firewall.intent_words import IntentWords, Packet, said


def describe(w: IntentWords, packet: Packet, comment: str | None, where: str) -> str:
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

