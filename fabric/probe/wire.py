"""A probe and its outcome as JSON, for a probe sent by another machine's daemon
(`POST /fabric/probe`): a lab host on another machine is probed from there, since its
namespaces cannot be entered from here.

Namespaces on the wire are as the daemon's own machine names them (a container's
SandboxKey); "" stands for the daemon's own namespace (the host itself).
"""

from dataclasses import asdict
from typing import Any

from fabric.errors import InvalidArgument
from fabric.probe.model import Outcome, Probe

OWN = ""        # the namespace of the daemon that sends the probe


def probe_doc(netns: str, probe: Probe) -> dict:
    return {"netns": netns, "probe": asdict(probe)}


def probe_of(doc: Any) -> tuple[str, Probe]:
    """(source namespace, probe) from a request body; InvalidArgument for a bad one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("probe"), dict):
        raise InvalidArgument('probe: the body must be {"netns": ..., "probe": {...}}')
    raw = dict(doc["probe"])
    try:
        raw["via"] = tuple((str(ns), str(ifname)) for ns, ifname in raw.get("via") or ())
        return str(doc.get("netns") or OWN), Probe(**raw)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"probe: {e}") from None


def outcome_doc(o: Outcome) -> dict:
    return asdict(o)


def outcome_of(doc: dict) -> Outcome:
    return Outcome(str(doc["result"]), str(doc["detail"]), float(doc["elapsed"]),
                   tuple(bool(s) for s in doc.get("seen_via") or ()))
