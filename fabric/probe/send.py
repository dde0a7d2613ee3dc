"""send(): one probe from inside a namespace, and whether its packets crossed `via`."""

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace

from fabric.probe import http, icmp, sink, sockets, stream
from fabric.probe.model import Outcome, Probe
from fabric.probe.stream import Matcher

Handler = Callable[[str | None, Probe, ExitStack], tuple[Outcome, Matcher]]
HANDLERS: dict[str, Handler] = {
    "icmp": icmp.probe, "tcp": stream.tcp, "udp": stream.udp, "http": http.probe,
}


def send(src_netns: str | None, probe: Probe) -> Outcome:
    """Send `probe` from `src_netns` (None: the caller's namespace) and report what
    came back. Safe to call from many threads at once; every socket and thread it
    makes is gone when it returns. Raises FabricError only when the probe cannot be
    made at all (a namespace or interface that does not exist, a sink port in use)."""
    handler = sink.probe if probe.nbytes is not None else HANDLERS[probe.proto]
    with ExitStack() as stack:
        taps = sockets.taps(probe.via, stack)   # open before anything is sent
        outcome, mine = handler(src_netns, probe, stack)
        return replace(outcome, seen_via=tuple(sockets.seen(t, mine) for t in taps))
