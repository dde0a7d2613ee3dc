"""The hosts' passes put in the order the packets took them, and the one line that
says how the probe fared.

Trace events carry no time and each namespace reports its own, so the order across
namespaces comes from the packet itself: its TTL drops by one at every router, so of
two passes of one packet the one with the higher TTL came first. Where routing did
not change it (bridges, tunnels, the sender's own namespace), the pass where the
packet was made comes first, the one where it was delivered last, the one it entered
through a tunnel after the one that sent it in, and the sender's host before the
others. Everything here is pure: the CLI runs it on what the daemons answered.
"""

from dataclasses import dataclass, field

from fabric.trace import model
from fabric.trace.model import Hop, Pass


@dataclass(frozen=True)
class Ends:
    """Where the probe starts and ends, as the caller named them."""
    src: str            # "a", "host"
    dst: str            # "b", "10.88.0.3"
    src_host: str
    dst_host: str | None = None


@dataclass
class Story:
    ends: Ends
    result: str                     # the probe's: ok, refused, blocked
    detail: str
    request: list[Pass] = field(default_factory=list)
    answer: list[Pass] = field(default_factory=list)   # the reply, or errors about it
    verdict: str = ""               # one line: how it went, and where it died

    def hops(self) -> list[Hop]:
        return [h for p in self.request + self.answer for h in p.hops]

    def doc(self) -> dict:
        return {"from": self.ends.src, "to": self.ends.dst, "result": self.result,
                "detail": self.detail, "verdict": self.verdict,
                "hops": [h.doc() for h in self.hops()]}


def _key(p: Pass, first: str, last: str | None):
    rank = 0 if p.origin else 2 if p.delivered else 1
    where = 0 if p.host == first else 2 if p.host == last else 1
    return (-p.ttl, rank, p.decap, where, p.seq)


def order(passes: list[Pass], direction: tuple[str, ...], first: str,
          last: str | None) -> list[Pass]:
    mine = [p for p in passes if p.direction in direction]
    return sorted(mine, key=lambda p: _key(p, first, last))


def tell(passes: list[Pass], ends: Ends, result: str, detail: str) -> Story:
    s = Story(ends, result, detail)
    s.request = order(passes, ("request",), ends.src_host, ends.dst_host)
    # an ICMP error about the reply comes after the reply it is about, though it is
    # made (a higher TTL) on the host where the reply died
    back = (ends.dst_host or "", ends.src_host)
    s.answer = order(passes, ("reply",), *back) + order(passes, ("error",), *back)
    s.verdict = _verdict(s)
    return s


def _verdict(s: Story) -> str:
    if s.result == "ok":
        return f"ok: {s.detail}"
    died = _end(s.request)
    if died:
        return died
    if s.request and s.request[-1].fate == model.DELIVERED:
        back = _end([p for p in s.answer if p.direction == "reply"] or s.answer)
        if back:
            return f"{s.result}: the answer {back.split(': ', 1)[-1]}" \
                if not back.startswith(("dropped", "no route")) else back
        if s.result == "refused":
            return f"refused: {s.detail}"
        return (f"{s.result}: delivered to {s.request[-1].namespace} on host "
                f"{s.request[-1].host}, no answer came back ({s.detail})")
    return f"{s.result}: {s.detail}"


def _end(passes: list[Pass]) -> str:
    """How the last pass of a direction ended, when the packet went no further."""
    if not passes:
        return ""
    last = passes[-1]
    if last.fate in (model.DROPPED, model.NO_ROUTE):
        return last.reason
    if last.fate == model.LEFT:
        out = next((h.interface for h in reversed(last.hops) if h.interface), "?")
        return (f"lost: it left host {last.host} ({last.namespace}) through "
                f"{out.split(' -> ')[-1]} and no traced host saw it again")
    if last.fate == model.VANISHED:
        return last.reason if last.reason.startswith("no ") else \
            f"lost: {last.reason}" if last.reason else ""
    return ""
