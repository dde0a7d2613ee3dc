"""Every check on one host, and `--fix`: repair what fabric owns, look again, and say
what was fixed and what is left (to the user, or because a repair failed)."""

from fabric.doctor import (
    coexistence,
    firewall_state,
    mtu,
    orphans,
    overlap,
    ovs_orphans,
    sysctls,
)
from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.errors import FabricError

# Orphans first: what they remove could stand in the way of what comes after. The
# firewall last: one render answers both a drifted table and a missing DOCKER-USER rule.
CHECKS = (orphans.interfaces, orphans.stray_routes, orphans.namespaces, ovs_orphans.check,
          sysctls.ip_forward, sysctls.rp_filter, overlap.check, coexistence.check,
          firewall_state.check)


def examine(scene: Scene) -> tuple[list[Finding], list[mtu.Path]]:
    found: list[Finding] = []
    for check in CHECKS:
        found += check(scene)
    paths = mtu.paths(scene)
    return found + mtu.check(scene, paths), paths


def report(scene: Scene, findings: list[Finding], paths: list[mtu.Path]) -> dict:
    return {"Host": scene.host, "Findings": [f.json() for f in findings],
            "Tunnels": [p.json() for p in paths]}


def diagnose(scene: Scene) -> dict:
    return report(scene, *examine(scene))


def fix(scene: Scene, again) -> dict:
    """Repair every fixable finding once, then look again (`again()`: a fresh scene,
    the records and the kernel as they are now)."""
    first, _ = examine(scene)
    done: set[str] = set()
    failed: dict[str, str] = {}
    for f in first:
        if f.repair is None or f.fix in done:
            continue
        done.add(f.fix)
        try:
            f.repair()
        except (FabricError, OSError) as e:
            failed[f.what] = str(e)
    scene = again()
    left, paths = examine(scene)
    still = {f.what for f in left}
    fixed = [f for f in first if f.repair is not None and f.what not in still]
    for f in fixed:
        f.fixed = True
    for f in left:
        f.failed = failed.get(f.what, "")
    return report(scene, fixed + left, paths)
