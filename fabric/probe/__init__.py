"""The prober: one probe sent from inside a network namespace, and what came back.

Used by `lab test` and `lab ping`; standard library only (no pyroute2, no scapy), so
importing it is cheap.
"""

from fabric.probe.model import Outcome, Probe
from fabric.probe.send import send

__all__ = ["Outcome", "Probe", "send"]
