"""One trace, driven from the caller's side (the CLI, a lab): every host armed at once,
one probe sent, every host asked what it saw and disarmed, the story told.

No path is predicted: every host of a lab is armed (labs are small) and the kernel
says where the packet went. Standard library and fabric's client only: the kernel
work happens in each host's daemon (fabric/daemon/routes_trace.py).
"""

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from fabric.client.http import ApiError, Client, DaemonUnavailable
from fabric.errors import FabricError, InvalidArgument
from fabric.probe import Probe, wire
from fabric.trace import story as storymod
from fabric.trace.model import Pass

# Identifiers above Linux's default ephemeral range (32768-60999), so no port the
# kernel picked for another socket is taken for the probe's source port.
IDENTS = range(61000, 65536)
# the ICMP errors and last events of a probe that gave up are queued by then
SETTLE = 0.02


@dataclass(frozen=True)
class Want:
    """The probe the user asked for, before its destination is resolved."""
    proto: str = "icmp"
    port: int | None = None
    timeout: float = 0.5

    def probe(self, dst: str) -> Probe:
        if self.proto != "icmp" and self.port is None:
            raise InvalidArgument(f"trace: --proto {self.proto} needs --port")
        return Probe(self.proto, dst, self.port if self.proto != "icmp" else None,
                     timeout=self.timeout)


@dataclass(frozen=True)
class Tracer:
    """One host's daemon, and what the trace calls that host."""
    label: str
    client: Client


@dataclass(frozen=True)
class Plan:
    hosts: tuple[Tracer, ...]       # every host to arm
    sender: Tracer                  # whose daemon sends the probe
    src_netns: str                  # as the sender names it: "" its own, or a SandboxKey
    probe: Probe                    # without ident: one is chosen here
    names: dict[str, str]           # address -> name, for the words
    ends: storymod.Ends
    subnets: dict[str, str] = field(default_factory=dict)   # address -> its subnet


def ident() -> int:
    return IDENTS[secrets.randbelow(len(IDENTS))]


def _say(t: Tracer, e: Exception) -> FabricError:
    msg = e.message if isinstance(e, ApiError) else str(e)
    return FabricError(f"trace: host {t.label}: {msg}")


def _arm(t: Tracer, body: dict) -> str:
    try:
        return t.client.call("POST", "/fabric/trace", body=body)["Id"]
    except (ApiError, DaemonUnavailable, OSError) as e:
        raise _say(t, e) from None


def _finish(t: Tracer, sid: str) -> list[Pass]:
    try:
        doc = t.client.call("DELETE", f"/fabric/trace/{sid}")
    except (ApiError, DaemonUnavailable, OSError) as e:
        raise _say(t, e) from None
    return [Pass.of(p) for p in doc.get("Passes") or ()]


def run(plan: Plan) -> storymod.Story:
    probe = replace(plan.probe, ident=ident())
    proto = "icmp" if probe.proto == "icmp" else probe.proto.replace("http", "tcp")
    seconds = max(10.0, probe.timeout * 4)
    armed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="trace") as ex:
        try:
            futures = {t.label: ex.submit(_arm, t, {
                "match": {"proto": proto, "ident": probe.ident}, "host": t.label,
                "names": plan.names, "subnets": plan.subnets, "seconds": seconds})
                for t in plan.hosts}
            errors = []
            for label, f in futures.items():
                try:
                    armed[label] = f.result()
                except FabricError as e:
                    errors.append(e)
            if errors:
                raise errors[0]
            outcome = _send(plan.sender, plan.src_netns, probe)
            time.sleep(SETTLE)
        finally:
            got = {t.label: ex.submit(_finish, t, armed[t.label])
                   for t in plan.hosts if t.label in armed}
        passes = [p for f in got.values() for p in f.result()]
    return storymod.tell(passes, plan.ends, outcome.result, outcome.detail)


def _send(t: Tracer, netns: str, probe: Probe):
    try:
        doc = t.client.call("POST", "/fabric/probe", body=wire.probe_doc(netns, probe))
    except (ApiError, DaemonUnavailable, OSError) as e:
        raise _say(t, e) from None
    return wire.outcome_of(doc)
