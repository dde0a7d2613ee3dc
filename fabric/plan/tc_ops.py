"""Plan steps that impair an interface: shaping with a root qdisc (fabric/net/tc.py)
and random loss with an nftables rule (fabric/net/loss.py), both on its egress.

Each step sets the whole state it names, so applying a changed impairment replaces
the old one, and applying the same one again changes nothing.
"""

from dataclasses import dataclass

from fabric.net import loss, tc
from fabric.plan import shell
from fabric.plan.ops import Op


def rate_text(bits: int) -> str:
    """A rate as tc writes it: 10mbit, 1500kbit, 64bit."""
    for unit, size in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits % size == 0:
            return f"{bits // size}{unit}"
    return f"{bits}bit"


def time_text(us: int) -> str:
    return f"{us // 1000}ms" if us % 1000 == 0 else f"{us}us"


@dataclass(frozen=True)
class SetShaping(Op):
    """fabric's root qdisc on `ifname`: tbf for a rate alone, netem (with its own rate)
    for delay and jitter."""
    ifname: str
    rate: int | None = None        # bits per second
    delay_us: int = 0
    jitter_us: int = 0

    def shape(self) -> tc.Shape:
        return tc.Shape(rate=self.rate // 8 if self.rate else None,
                        delay_us=self.delay_us, jitter_us=self.jitter_us)

    def apply(self, ctx):
        ipr = ctx.ipr(self.ns)
        old = tc.root(ipr, self.ifname)
        if old == self.shape():
            return None
        tc.replace(ipr, self.ifname, self.shape())
        return ("was", old)

    def undo(self, ctx, memo=None):
        ipr = ctx.ipr(self.ns)
        old = memo[1] if memo else None
        if old is None:
            tc.delete(ipr, self.ifname)
        else:
            tc.replace(ipr, self.ifname, old)

    def describe(self):
        head = ["qdisc", "replace", "dev", self.ifname, "root", "handle", tc.HANDLE_TEXT]
        shape = self.shape()
        if shape.kind == "tbf":
            burst, limit = shape.tbf_sizes()
            return shell.tc(self.ns, *head, "tbf", "rate", rate_text(self.rate or 0),
                            "burst", f"{burst}b", "limit", f"{limit}b")
        return shell.tc(self.ns, *head, "netem", "delay", time_text(self.delay_us),
                        *((time_text(self.jitter_us),) if self.jitter_us else ()),
                        *(("rate", rate_text(self.rate)) if self.rate else ()),
                        "limit", tc.NETEM_LIMIT)


@dataclass(frozen=True)
class ClearShaping(Op):
    """Remove fabric's root qdisc from `ifname`; none there (or a foreign one) is left
    as it is."""
    ifname: str

    def apply(self, ctx):
        return tc.delete(ctx.ipr(self.ns), self.ifname) or None

    def undo(self, ctx, memo=None):
        pass   # a removed impairment is not put back; the plan that set it can

    def describe(self):
        return shell.tc(self.ns, "qdisc", "del", "dev", self.ifname, "root",
                        "handle", tc.HANDLE_TEXT)


@dataclass(frozen=True)
class SetLoss(Op):
    """Drop `percent` of the packets leaving `ifname`."""
    ifname: str
    percent: float

    def apply(self, ctx):
        old = loss.get(self.ns, self.ifname)
        if old == self.percent:
            return None
        loss.set_loss(self.ns, self.ifname, self.percent)
        return ("was", old)

    def undo(self, ctx, memo=None):
        old = memo[1] if memo else None
        if old is None:
            loss.clear(self.ns, self.ifname)
        else:
            loss.set_loss(self.ns, self.ifname, old)

    def describe(self):
        body = loss.script(self.ifname, self.percent)
        return f"{shell.exec_in(self.ns, 'nft', '-f', '-')} <<'EOF'\n{body}\nEOF"


@dataclass(frozen=True)
class ClearLoss(Op):
    ifname: str

    def apply(self, ctx):
        return loss.clear(self.ns, self.ifname) or None

    def undo(self, ctx, memo=None):
        pass

    def describe(self):
        return shell.exec_in(self.ns, "nft", "delete", "chain", loss.FAMILY, loss.TABLE,
                             loss.chain(self.ifname))
