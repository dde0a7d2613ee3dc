"""A rule a traced packet met, in the words of fabric's intent: which network, which
containers, which link, which published port, which user's rule.

fabric's rules are recognised by what the renderers put in them on purpose: their
comments, the sets they look up (nft's `@links`, `@icc_deny`...) and the chains they
sit in (fabric/firewall/README.md lists both backends' layouts); never by guessing
from other tables. A rule of someone else's table (Docker's, a hand-made one) is
shown as it is, and a drop there says whose table it was.

This is the trace's own small mapping. The same mapping for `fabric firewall show`
belongs in fabric/firewall/intent_words.py (the doctor's), which should replace it
once it lands.
"""

from dataclasses import dataclass

from fabric.trace.intent import Intent, describe_rule
from fabric.trace.packet import Packet
from fabric.trace.ruleset import Chain, Rule

OURS = "fabric"
IPT_CHAINS = ("FABRIC-FORWARD", "FABRIC-USER", "FABRIC-ISOLATION-STAGE-1",
              "FABRIC-ISOLATION-STAGE-2", "FABRIC", "FABRIC-POSTROUTING", "FABRIC-ANTISPOOF")


@dataclass(frozen=True)
class Seen:
    """Where a rule met the packet: its headers, and the interfaces of the hook."""
    pkt: Packet
    iif: str | None
    oif: str | None


def of(chain: Chain, rule: Rule | None, verdict: str | None, at: Seen,
       intent: Intent) -> str:
    """Words for one rule (or a chain's policy, rule None) and its verdict; "" when
    there is nothing to say beyond the rule itself."""
    if rule is not None and (user := intent.user_rule(rule.comment)):
        return f"{_verb(verdict)} by {describe_rule(user)}"
    if chain.table == OURS and chain.family in ("bridge", "inet"):
        return _nft(chain, rule, verdict, at, intent)
    if chain.family == "ip" and chain.name in IPT_CHAINS:
        return _iptables(chain, rule, verdict, at, intent)
    if verdict == "drop":
        if rule is None:
            hint = " (Docker's FORWARD DROP policy?)" if chain.name == "FORWARD" else ""
            return (f"dropped by the policy of {chain.family} {chain.table} {chain.name}, "
                    f"not fabric's{hint}")
        return f"dropped by {rule.where} rule {rule.index}, not fabric's: {rule.text}"
    return ""


def _verb(verdict: str | None) -> str:
    return {"drop": "dropped", "accept": "accepted", "goto": "accepted",
            "reject": "rejected"}.get(verdict or "", verdict or "matched")


# --- the nftables backend ---------------------------------------------------------------

def icc_false(at: Seen, intent: Intent) -> str:
    net = intent.net_name(at.iif, at.oif, at.pkt.src, at.pkt.dst)
    a, b = intent.name(at.pkt.src), intent.name(at.pkt.dst)
    return f"dropped: icc=false on network {net}; containers {a} and {b} are not linked"


def link(at: Seen, intent: Intent) -> str:
    p = at.pkt
    lk = intent.link(p.src, p.dst)
    if lk is None:
        return "allowed by a link"
    ports = ", ".join(f"{proto}/{a}" if a == b else f"{proto}/{a}-{b}"
                      for proto, a, b in lk.ports)
    return (f"allowed by the link {intent.name(lk.consumer_ip)} -> "
            f"{intent.name(lk.target_ip)} ({ports})")


def published(at: Seen, intent: Intent) -> str:
    p = at.pkt
    port = intent.published(p.dst, p.dport)
    if port is None:
        return "a published port's connection (DNAT)"
    return (f"published port {port.host_port}/{port.proto} of "
            f"{intent.name(port.container_ip)} (-> {port.container_ip}:{port.container_port})")


def _comment_words(comment: str, at: Seen, intent: Intent) -> str | None:
    net = intent.net_name(at.iif, at.oif, at.pkt.src, at.pkt.dst)
    src = intent.who(at.pkt.src)
    out_net = intent.net_name(at.oif, at.pkt.dst)
    return {
        "icc=true, container to container": f"icc=true on network {net}",
        "icc=true, untracked": f"icc=true on network {net}",
        "forged source MAC": f"dropped: {src} sent from a MAC that is not its own "
                             "(anti-spoofing)",
        "forged source IP": f"dropped: {src} sent from an address that is not its own "
                            "(anti-spoofing)",
        "forged ARP": "dropped: an ARP packet claiming another container's address",
        "no loopback from containers": "dropped: containers may not reach the host's "
                                       "loopback addresses (CVE-2020-8558)",
        "not fabric's traffic": "not fabric's traffic: no network's interface in or out",
        "internal network": f"dropped: network {net} is internal (--internal)",
        "published port": published(at, intent),
        "between networks": f"dropped: networks {intent.net_name(at.iif, at.pkt.src)} "
                            f"and {out_net} are isolated from each other",
        "outbound": f"leaving network {net}",
        "icc=false, from another host": f"from network {out_net}'s containers on another "
                                        "host: icc=false applies",
        "from a subnet reached without NAT": f"from {at.pkt.src}, a subnet network "
                                             f"{out_net} reaches without NAT",
        "inbound, neither published nor a reply":
            f"dropped: traffic into network {out_net} that is neither to a published port "
            "nor a reply",
        "icc=false": icc_false(at, intent),
        "hairpin": "hairpin: masqueraded, so the answer comes back through the host",
        "leaving the network": f"masqueraded: leaving network {net}",
        "published port reached through 127.0.0.1": "masqueraded: a published port "
                                                    "reached through 127.0.0.1",
    }.get(comment)


def _nft(chain: Chain, rule: Rule | None, verdict: str | None, at: Seen,
         intent: Intent) -> str:
    if rule is None:
        return ""
    said = _comment_words(rule.comment, at, intent) if rule.comment else None
    if said is not None:
        return said
    sets, name = set(rule.sets), chain.name
    if "links" in sets:
        return link(at, intent)
    if "icc_deny" in sets:
        return f"icc=false on network {intent.net_name(at.iif, at.pkt.src)}: links decide"
    if "icc_bridges" in sets:
        return f"icc=true on network {intent.net_name(at.iif, at.pkt.src)}"
    if "same_bridge" in sets:
        return f"within network {intent.net_name(at.iif, at.pkt.src)}"
    if "port_ip" in sets and verdict == "accept":
        return f"{intent.who(at.pkt.src)} sends from its own MAC and address"
    if "ports" in sets and verdict == "accept":
        return "not from a container's port"
    if sets & {"dnat_ip_addr", "dnat_any_addr"}:
        return published(at, intent)
    if "ct state" in rule.text and verdict == "goto":
        return "a reply or related packet (conntrack)"
    if name == "icc" and "arp" in rule.text:
        return "ARP always passes"
    if name == "icc" and verdict == "drop":
        return icc_false(at, intent)
    if name == "intra" and "ct status dnat" in rule.text:
        return published(at, intent)
    return ""


# --- the iptables backend ---------------------------------------------------------------

def _opt(text: str, flag: str) -> str | None:
    words = text.split()
    for i, w in enumerate(words[:-1]):
        if w == flag and (i == 0 or words[i - 1] != "!"):
            return words[i + 1]
    return None


def _iptables(chain: Chain, rule: Rule | None, verdict: str | None, at: Seen,
              intent: Intent) -> str:
    if rule is None:
        return ""
    t, name = rule.text, chain.name
    i, o = _opt(t, "-i"), _opt(t, "-o")
    net = intent.net_name(i, o, at.pkt.src)
    if name == "FABRIC-FORWARD":
        if "RELATED,ESTABLISHED" in t:
            return "a reply or related packet (conntrack)"
        if i and o and i == o:
            return f"icc=true on network {net}" if verdict == "accept" else icc_false(at, intent)
        if i and "! -o" in t:
            return f"leaving network {net}"
        if verdict == "drop" and _opt(t, "-s"):
            return (f"from network {intent.net_name(o)}'s containers on another host: "
                    f"{icc_false(at, intent)}")
        if verdict == "accept" and _opt(t, "-s"):
            return f"from {at.pkt.src}, a subnet network {net} reaches without NAT"
        if verdict == "drop":
            return (f"dropped: traffic into network {intent.net_name(o)} that is neither to a "
                    "published port nor a reply")
        return ""
    if name == "FABRIC" and chain.table == "filter":
        return published(at, intent) if "DNAT" in t else link(at, intent)
    if name.startswith("FABRIC-ISOLATION") and verdict == "drop":
        if "! -s" in t or "! -d" in t:
            return f"dropped: network {net} is internal (--internal)"
        return (f"dropped: networks {intent.net_name(at.iif, at.pkt.src)} and "
                f"{intent.net_name(o, at.pkt.dst)} are isolated from each other")
    if name == "FABRIC" and chain.table == "nat":
        return published(at, intent)
    if name == "FABRIC-POSTROUTING" and "MASQUERADE" in t:
        return "hairpin: masqueraded, so the answer comes back through the host" \
            if "DNAT" in t else f"masqueraded: leaving network {net}"
    if name == "FABRIC-ANTISPOOF" and verdict == "drop":
        if "127.0.0.0/8" in t:
            return _comment_words("no loopback from containers", at, intent) or ""
        return f"dropped: {intent.who(at.pkt.src)} sent from an address or MAC that is not " \
               "its own (anti-spoofing)"
    return ""
