"""A trace as plain values, shared by the daemons that make it and the CLI that tells
it: hops, the passes they make up, and how each pass ended.

A *pass* is one packet (the probe, its answer, or an ICMP error about it) crossing one
namespace: it arrives or is made there, and leaves, is delivered, or dies there. A
*hop* is one thing that happened to it meanwhile: a bridge forwarding it, a route
chosen, NAT, a chain's verdict, a tunnel.
"""

from dataclasses import asdict, dataclass, field

STAGES = ("bridge", "route", "nat", "filter", "encap", "decap")
DIRECTIONS = ("request", "reply", "error")
# how a pass ends
DELIVERED, LEFT, DROPPED, NO_ROUTE, VANISHED = "delivered", "left", "dropped", "no-route", \
    "vanished"


@dataclass(frozen=True)
class Hop:
    host: str
    namespace: str      # "host", or the container's name
    interface: str      # where: "eth0", "fv1a2b (a) -> fv3c4d (b)"
    stage: str          # one of STAGES
    verdict: str        # accept, drop, forward, deliver, send, dnat, snat, encap, ...
    rule: str = ""      # the kernel's object: an nft rule, a route, an FDB entry, a flow
    reason: str = ""    # fabric's intent behind it, in words
    direction: str = ""
    packet: str = ""    # the packet as it was here, one line
    table: str = ""     # for filter and nat: "bridge fabric forward"
    rules: tuple[str, ...] = ()   # filter and nat: every rule of the walk, in order

    def doc(self) -> dict:
        d = asdict(self)
        d["rules"] = list(self.rules)
        return d

    @classmethod
    def of(cls, doc: dict) -> "Hop":
        return cls(**{**doc, "rules": tuple(doc.get("rules") or ())})


@dataclass
class Pass:
    host: str
    namespace: str
    direction: str
    ttl: int            # the (inner) packet's TTL as it arrived or was made here
    origin: bool = False     # made here (the output hook came first)
    delivered: bool = False  # handed to a local socket (the input hook came last)
    decap: bool = False      # arrived through a tunnel
    seq: int = 0             # its place among this namespace's passes
    hops: list[Hop] = field(default_factory=list)
    fate: str = VANISHED
    reason: str = ""         # how it ended, one line, when it did not go on

    def doc(self) -> dict:
        d = asdict(self)
        d["hops"] = [h.doc() for h in self.hops]
        return d

    @classmethod
    def of(cls, doc: dict) -> "Pass":
        return cls(**{**doc, "hops": [Hop.of(h) for h in doc.get("hops") or ()]})
