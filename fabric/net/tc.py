"""Traffic control through netlink: the root queueing discipline fabric puts on an
interface to shape what leaves it.

Ownership: fabric's root qdisc always has the handle `fab0:`, so teardown removes only
a qdisc carrying it (qdiscs have no alias or comment to tag). A root qdisc with handle
0 is the kernel's default (noqueue on veth, pfifo_fast elsewhere); any other handle was
put there by someone else and is left alone.

This machine's kernel has tbf and htb but no netem (nor the police action), so delay
and jitter exist only where `netem_supported()` says so.
"""

import ctypes
import functools
import socket
import threading
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.tcmsg import common as tccommon

from fabric.errors import Conflict, FabricError
from fabric.net import links
from fabric.net.errors import translate

HANDLE = 0xFAB00000          # "fab0:"
HANDLE_TEXT = "fab0:"
TC_H_ROOT = 0xFFFFFFFF
MAX_RATE = (1 << 32) - 1     # bytes/s: tbf's 32-bit rate field (34 Gbit/s)
CLONE_NEWNET = 0x40000000

# tbf sizes. Burst: the bucket must hold what arrives between two wake-ups of the
# qdisc's timer and at least a few full frames (a GSO packet larger than the bucket
# is cut into segments first); 4 ms of traffic, the rule of thumb for HZ=250, with
# 4 KiB as the floor. Limit: 50 ms of queue on top of the bucket, so TCP's bursts
# queue instead of being dropped (measured here: TCP goodput within 5% of the rate,
# the rest being Ethernet/IP/TCP headers).
BURST_SECONDS, MIN_BURST = 0.004, 4096
QUEUE_SECONDS = 0.05
NETEM_LIMIT = 1000           # packets, netem's own default


@dataclass(frozen=True)
class Shape:
    """What fabric's root qdisc does: tbf when only a rate is set, netem (with its own
    rate) when there is delay or jitter."""
    rate: int | None = None      # bytes per second
    delay_us: int = 0
    jitter_us: int = 0

    @property
    def kind(self) -> str:
        return "netem" if self.delay_us or self.jitter_us else "tbf"

    def tbf_sizes(self) -> tuple[int, int]:
        """(burst, limit) in bytes."""
        rate = self.rate or 0
        burst = max(MIN_BURST, int(rate * BURST_SECONDS))
        return burst, int(rate * QUEUE_SECONDS) + burst


def _root(ipr: IPRoute, index: int):
    for q in ipr.get_qdiscs(index=index):
        if q["parent"] == TC_H_ROOT:
            return q
    return None


def root(ipr: IPRoute, ifname: str) -> Shape | None:
    """Fabric's shaping on `ifname`, or None when the kernel's default is there.
    Conflict when someone else's root qdisc is."""
    link = links.require(ipr, ifname)
    q = _root(ipr, link.index)
    if q is None or q["handle"] == 0:
        return None
    kind = q.get_attr("TCA_KIND")
    if q["handle"] != HANDLE:
        raise Conflict(f"{ifname} has a {kind} root qdisc that fabric did not put there "
                       f"(remove it first: tc qdisc del dev {ifname} root)")
    opts = q.get_attr("TCA_OPTIONS")
    if kind == "tbf":
        return Shape(rate=opts.get_attr("TCA_TBF_PARMS")["rate"])
    rate = opts.get_attr("TCA_NETEM_RATE")
    return Shape(rate=rate["rate"] if rate else None,
                 delay_us=round(opts["delay"] / tccommon.tick_in_usec),
                 jitter_us=round(opts["jitter"] / tccommon.tick_in_usec))


def replace(ipr: IPRoute, ifname: str, shape: Shape) -> None:
    index = links.require(ipr, ifname).index
    try:
        if shape.kind == "tbf":
            burst, limit = shape.tbf_sizes()
            ipr.tc("replace", "tbf", index, HANDLE, rate=shape.rate, burst=burst,
                   limit=limit)
        else:
            extra = {"rate": shape.rate} if shape.rate else {}
            ipr.tc("replace", "netem", index, HANDLE, delay=shape.delay_us,
                   jitter=shape.jitter_us, limit=NETEM_LIMIT, **extra)
    except NetlinkError as e:
        raise translate(e, f"tc qdisc replace dev {ifname} root {shape.kind}") from e


def delete(ipr: IPRoute, ifname: str) -> bool:
    """Remove fabric's root qdisc (the kernel puts its default back); False when
    there was none or the interface is gone."""
    link = links.get(ipr, ifname)
    if link is None:
        return False
    q = _root(ipr, link.index)
    if q is None or q["handle"] != HANDLE:
        return False
    try:
        ipr.tc("del", index=link.index, handle=HANDLE, parent=TC_H_ROOT)
    except NetlinkError as e:
        if e.code in (2, 19):    # ENOENT, ENODEV: gone meanwhile
            return False
        raise translate(e, f"tc qdisc del dev {ifname} root") from e
    return True


_libc = ctypes.CDLL(None, use_errno=True)


def _try_netem(box: dict) -> None:
    # unshare() gives this thread alone a fresh, empty namespace, which dies with it:
    # the test qdisc goes on that namespace's loopback and touches nothing real.
    if _libc.unshare(CLONE_NEWNET) != 0:
        box["error"] = OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        return
    fd = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0).detach()
    with IPRoute(fileno=fd) as ipr:
        try:
            ipr.tc("add", "netem", 1, HANDLE, delay=1000)
            box["netem"] = True
        except NetlinkError as e:
            if e.code != 2:      # ENOENT: "Specified qdisc kind is unknown"
                box["error"] = e
            box["netem"] = False


@functools.cache
def netem_supported() -> bool:
    """Whether this kernel has the netem qdisc (asked once per process)."""
    box: dict = {}
    t = threading.Thread(target=_try_netem, args=(box,), name="netem-check", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise FabricError(f"cannot tell whether this kernel has netem: {box['error']}")
    return bool(box.get("netem"))
