"""Plans: ordered, idempotent, describable kernel changes, and their one applier.

Drivers build plans (pure values); the `Applier` runs them against a `Context`,
rolling back in reverse on failure, or only prints them (`--dry-run`), or prints
while running (`--explain`).
"""

from fabric.plan.applier import Applier, InjectedFault, Result, fail_step
from fabric.plan.context import Context
from fabric.plan.ops import (
                             AddAddress,
                             AddFdb,
                             AddNeighbour,
                             AddRoute,
                             CreateVeth,
                             DelAddress,
                             DeleteLink,
                             DelRoute,
                             EnsureBridge,
                             LinkUp,
                             NftBatch,
                             Op,
                             SetHairpin,
                             SetMac,
                             SetMaster,
                             SetMtu,
                             SetSysctl,
                             TxOffloads,
)
from fabric.plan.plan import Plan, plan

__all__ = [
    "AddAddress", "AddFdb", "AddNeighbour", "AddRoute", "Applier", "Context",
    "CreateVeth", "DelAddress", "DeleteLink", "DelRoute", "EnsureBridge",
    "InjectedFault", "LinkUp", "NftBatch", "Op", "Plan", "Result", "SetHairpin",
    "SetMac", "SetMaster", "SetMtu", "SetSysctl", "TxOffloads", "fail_step",
    "plan",
]
