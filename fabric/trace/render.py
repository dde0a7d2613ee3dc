"""A story as text for people: each pass (where the packet was, as it was there), its
hops one line each with the reason under it, and the verdict last."""

from fabric.trace.model import Hop, Pass
from fabric.trace.story import Story


def where(p: Pass | Hop, many_hosts: bool) -> str:
    if p.namespace == "host":
        return f"host {p.host}"
    return f"{p.host}/{p.namespace}" if many_hosts else p.namespace


def quiet(h: Hop) -> bool:
    """A chain that let the packet pass with nothing to say of fabric's intent (no rule
    matched, or only bookkeeping: jumps, marks)."""
    return h.stage in ("filter", "nat") and h.verdict == "accept" and not h.reason


def text(s: Story, verbose: bool = False) -> str:
    hosts = {p.host for p in s.request + s.answer}
    many = len(hosts) > 1
    lines = [f"trace {s.ends.src} -> {s.ends.dst}"]
    for title, passes in (("request", s.request), ("answer", s.answer)):
        if not passes:
            continue
        lines.append(f"{title}:")
        for p in passes:
            # the packet itself, not the tunnel's outer one it arrived in
            pkt = next((h.packet for h in p.hops if h.packet and h.stage != "decap"), "")
            lines.append(f"  {where(p, many)}: {pkt}")
            for h in p.hops:
                if quiet(h) and not verbose:
                    continue
                lines += _hop(h, verbose)
    lines.append(s.verdict)
    return "\n".join(lines) + "\n"


def _hop(h: Hop, verbose: bool) -> list[str]:
    what = h.table or h.interface
    rule = f"{what}: {h.rule}" if h.rule else what
    out = [f"    {h.stage:<7} {h.verdict:<8} {rule}"]
    if h.table and h.interface:
        out[0] += f"  [{h.interface}]"
    if verbose:
        out += [f"{'':>21}{r}" for r in h.rules]
    if h.reason:
        out.append(f"{'':>21}{h.reason}")
    return out
