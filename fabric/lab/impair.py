"""Impairment: `rate=10mbit loss=5% delay=20ms jitter=5ms` on a host's NIC or on a
whole segment, planned as steps on the egress of interfaces.

Both directions are impaired by acting on the egress of both ends (this kernel has no
ifb to shape ingress): for a host NIC, the NIC inside the host's namespace and its
peer port on the segment's bridge; for a segment, every port of its bridge, so a
frame crossing the segment from one host to another is impaired once, at the port
that delivers it.

Rate: tbf. Loss: an nftables `numgen random` rule (no netem here, and no police
action). Delay and jitter: netem, only where the kernel has it.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fabric.errors import InvalidArgument
from fabric.net import tc
from fabric.plan import Plan
from fabric.plan.ops import Op
from fabric.plan.tc_ops import ClearLoss, ClearShaping, SetLoss, SetShaping, rate_text

KEYS = ("rate", "loss", "delay", "jitter")
NO_NETEM = "this kernel has no netem: delay and jitter cannot be set"

_NUMBER = r"(\d+(?:\.\d+)?)"
RATE_UNITS = {
    "bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9,
    "kibit": 2**10, "mibit": 2**20, "gibit": 2**30,
    # tc's bps is bytes per second
    "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9,
}
TIME_UNITS = {"us": 1, "usec": 1, "ms": 1000, "msec": 1000, "s": 10**6, "sec": 10**6}
MAX_RATE_BITS = tc.MAX_RATE * 8

End = tuple[str | None, str]      # (netns, ifname)


@dataclass(frozen=True)
class Impairment:
    rate: int | None = None        # bits per second
    loss: float | None = None      # percent, 0 < loss <= 100
    delay_us: int = 0
    jitter_us: int = 0

    def __bool__(self) -> bool:
        return bool(self.rate or self.loss or self.delay_us or self.jitter_us)

    def text(self) -> str:
        """The canonical spelling, as parse() reads it; "none" when nothing is set."""
        words = (("rate", rate_text(self.rate) if self.rate else ""),
                 ("loss", f"{self.loss:g}%" if self.loss else ""),
                 ("delay", f"{self.delay_us / 1000:g}ms" if self.delay_us else ""),
                 ("jitter", f"{self.jitter_us / 1000:g}ms" if self.jitter_us else ""))
        return " ".join(f"{key}={value}" for key, value in words if value) or "none"


def _bad(key: str, value: object, example: str) -> InvalidArgument:
    return InvalidArgument(f"impairment {key}: bad value {str(value)!r} (e.g. {example})")


def _rate(value: object) -> int:
    m = re.fullmatch(_NUMBER + r"\s*([a-z]+)", str(value).strip().lower())
    if m is None or m.group(2) not in RATE_UNITS:
        raise _bad("rate", value, "10mbit, 512kbit, 1gbit")
    bits = int(float(m.group(1)) * RATE_UNITS[m.group(2)])
    if bits < 8:
        raise InvalidArgument(f"impairment rate: {value} is too slow (at least 8bit)")
    if bits > MAX_RATE_BITS:
        raise InvalidArgument(f"impairment rate: {value} is above tbf's limit of 34gbit")
    return bits


def _loss(value: object) -> float:
    m = re.fullmatch(_NUMBER + r"\s*%?", str(value).strip())
    if m is None:
        raise _bad("loss", value, "5%, 0.5%")
    pct = float(m.group(1))
    if pct > 100:
        raise InvalidArgument(f"impairment loss: {value} is above 100%")
    return pct


def _time(key: str, value: object) -> int:
    m = re.fullmatch(_NUMBER + r"\s*([a-z]+)", str(value).strip().lower())
    if m is None or m.group(2) not in TIME_UNITS:
        raise _bad(key, value, "20ms, 500us, 1s")
    return int(float(m.group(1)) * TIME_UNITS[m.group(2)])


def _pairs(spec: str) -> dict[str, str]:
    out = {}
    for word in spec.split():
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise InvalidArgument(f"impairment: {word!r} is not KEY=VALUE "
                                  f"(keys: {', '.join(KEYS)})")
        if key in out:
            raise InvalidArgument(f"impairment {key}: given twice")
        out[key] = value
    return out


def parse(spec: str | Mapping[str, object] | None) -> Impairment:
    """`rate=10mbit loss=5% delay=20ms jitter=5ms` (any of them, any order), or the same
    keys as a mapping (a lab file's segment); empty or "none" means no impairment."""
    if spec is None or (isinstance(spec, str) and spec.strip() in ("", "none")):
        return Impairment()
    items = _pairs(spec) if isinstance(spec, str) else dict(spec)
    unknown = [k for k in items if k not in KEYS]
    if unknown:
        raise InvalidArgument(f"impairment: unknown key {unknown[0]!r} "
                              f"(keys: {', '.join(KEYS)})")
    imp = Impairment(
        rate=_rate(items["rate"]) if "rate" in items else None,
        loss=_loss(items["loss"]) or None if "loss" in items else None,
        delay_us=_time("delay", items["delay"]) if "delay" in items else 0,
        jitter_us=_time("jitter", items["jitter"]) if "jitter" in items else 0,
    )
    if imp.jitter_us and not imp.delay_us:
        raise InvalidArgument("impairment jitter: needs a delay (e.g. delay=20ms jitter=5ms)")
    return imp


def plan(imp: Impairment, ends: Sequence[End], *, netem: bool | None = None,
         title: str = "") -> Plan:
    """Steps that make the egress of every end match `imp` exactly: what it sets
    replaces what was there, what it leaves unset is removed (an empty impairment
    clears everything). `netem`: whether the kernel has it (None: ask the kernel).

    Refuses delay and jitter, before any step, on a kernel without netem."""
    if imp.delay_us or imp.jitter_us:
        if not (tc.netem_supported() if netem is None else netem):
            raise InvalidArgument(NO_NETEM)
    ops: list[Op] = []
    for ns, ifname in ends:
        if imp.rate or imp.delay_us:
            ops.append(SetShaping(ns=ns, ifname=ifname, rate=imp.rate,
                                  delay_us=imp.delay_us, jitter_us=imp.jitter_us))
        else:
            ops.append(ClearShaping(ns=ns, ifname=ifname))
        if imp.loss:
            ops.append(SetLoss(ns=ns, ifname=ifname, percent=imp.loss))
        else:
            ops.append(ClearLoss(ns=ns, ifname=ifname))
    return Plan(tuple(ops), best_effort=not imp, title=title or f"impair {imp.text()}")


def clear(ends: Sequence[End], title: str = "") -> Plan:
    """Teardown: remove fabric's shaping and loss from every end (best effort)."""
    return plan(Impairment(), ends, netem=False, title=title or "impair none")


def nic_ends(host_ns: str | None, ifname: str, segment_ns: str, port: str) -> list[End]:
    """A host NIC and its peer port on the segment's bridge: one end per direction."""
    return [(host_ns, ifname), (segment_ns, port)]


def segment_ends(segment_ns: str, ports: Sequence[str]) -> list[End]:
    """Every port of a segment's bridge: the egress towards each host."""
    return [(segment_ns, port) for port in ports]
