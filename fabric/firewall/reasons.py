"""Why each of fabric's firewall rules is there, as one short key per reason.

The nftables backend writes the key as the rule's comment, so `nft list ruleset` and
`nft monitor trace` show it beside the rule; the iptables backend keeps it beside each
rule it renders (iptables.explained), so its rules stay as Docker's look. Every rule
that decides a packet's fate or rewrites it has one; the jumps between fabric's own
chains have none. intent_words.py turns a key (and the intent) into words.
"""

from dataclasses import dataclass

from fabric.firewall.intent import LinkIntent, PortIntent

# what icc says
ICC_TRUE_BRIDGED = "icc=true, container to container"
ICC_TRUE_UNTRACKED = "icc=true, untracked"
ICC_TRUE = "icc=true"
ICC_FALSE = "icc=false"
ICC_FALSE_NEW = "icc=false, not a reply"
ICC_FALSE_SPAN = "icc=false, from another host"
# Docker's --link, through icc=false
LINK = "link"
LINK_REPLY = "link, reply"
# -p: the DNAT, and the forwarded packets of those connections
DNAT = "published port (DNAT)"
PUBLISHED = "published port"
HAIRPIN = "hairpin"
LOOPBACK_PUBLISH = "published port reached through 127.0.0.1"
# what leaves and what comes in
MASQUERADE = "leaving the network"
OUTBOUND = "outbound"
UNNAT = "from a subnet reached without NAT"
BETWEEN = "between networks"
INTERNAL = "internal network"
INBOUND = "inbound, neither published nor a reply"
REPLY = "reply"
NOT_FABRIC = "not fabric's traffic"
# a container sends only as itself; it never reaches the host's loopback
SPOOF_MAC = "forged source MAC"
SPOOF_IP = "forged source IP"
SPOOF_ARP = "forged ARP"
LOOPBACK_GUARD = "no loopback from containers"
# users' rules: "fabric-rule:<id>[ <their comment>]"
USER_PREFIX = "fabric-rule:"

DROPS = frozenset({ICC_FALSE, ICC_FALSE_NEW, BETWEEN, INTERNAL, INBOUND, SPOOF_MAC,
                   SPOOF_IP, SPOOF_ARP, LOOPBACK_GUARD})

# Each reason in words, for a rule seen on its own (intent_words adds which network,
# which containers).
SAID = {
    ICC_TRUE_BRIDGED: "icc=true: containers of one network talk straight across its "
                      "bridge, untracked",
    ICC_TRUE_UNTRACKED: "icc=true: untracked traffic within one network",
    ICC_TRUE: "icc=true: containers of one network talk to each other",
    ICC_FALSE: "icc=false: containers of one network may not talk to each other, links "
               "and published ports excepted",
    ICC_FALSE_NEW: "icc=false: a linked container may answer, not open a connection back",
    ICC_FALSE_SPAN: "icc=false holds for the network's containers on other hosts",
    LINK: "a link lets its consumer reach the target's exposed ports through icc=false",
    LINK_REPLY: "replies over a link",
    DNAT: "a published port: DNAT to the container",
    PUBLISHED: "the forwarded packets of a published port's connections",
    HAIRPIN: "hairpin: a container reaching a published port of its own network is "
             "masqueraded, so replies come back the same way",
    LOOPBACK_PUBLISH: "a published port reached through 127.0.0.1 is masqueraded to the "
                      "bridge's address",
    MASQUERADE: "traffic leaving a network for outside the host is masqueraded",
    OUTBOUND: "containers reach out of the host",
    UNNAT: "traffic from a subnet reached without NAT is let in",
    BETWEEN: "networks are kept apart: nothing is forwarded from one to another",
    INTERNAL: "an internal network: nothing goes in or out",
    INBOUND: "forwarded into a network and neither published nor a reply: dropped",
    REPLY: "replies of connections already allowed",
    NOT_FABRIC: "not fabric's traffic: left to the host's other firewalls",
    SPOOF_MAC: "anti-spoofing: a container sends only from its own MAC",
    SPOOF_IP: "anti-spoofing: a container sends only from its own address",
    SPOOF_ARP: "anti-spoofing: a container's ARP carries its own MAC and address",
    LOOPBACK_GUARD: "containers may not reach the host's loopback (CVE-2020-8558)",
}
ALL = frozenset(SAID)


@dataclass(frozen=True)
class Why:
    """Why one rendered rule is there: its reason, and for a rule of one network (every
    rule of the iptables backend's is) which network, link, port or user rule."""
    reason: str | None = None       # None: a jump between fabric's own chains
    network: str | None = None      # network id
    ref: str | None = None          # link_ref(), port_ref() or a user rule's id


PLUMBING = Why()


def link_ref(lk: LinkIntent) -> str:
    return f"{lk.consumer_ip}>{lk.target_ip}"


def port_ref(p: PortIntent) -> str:
    return f"{p.proto}:{p.host_ip or '0.0.0.0'}:{p.host_port}"


def user_comment(rule_id: str, note: str = "") -> str:
    return f"{USER_PREFIX}{rule_id}" + (f" {note}" if note else "")


def of_comment(comment: str | None) -> tuple[str | None, str | None]:
    """(reason, user rule id) of a rule's comment; (None, None) for a rule of fabric's
    without one (a jump between its chains) or a comment that is not fabric's."""
    if not comment:
        return None, None
    if comment.startswith(USER_PREFIX):
        return USER_PREFIX, comment[len(USER_PREFIX):].split(" ", 1)[0]
    return (comment, None) if comment in ALL else (None, None)
