"""What `fabric lab compare` prints: what each driver's variant changed, one table with a
row per driver, and what failed; or the same as JSON."""

import json

from fabric.lab.compare import Plan, Row, Settings


def heading(plan: Plan, settings: Settings) -> str:
    """The lab, the pair measured, and what was rewritten for each driver."""
    a, b = plan.a, plan.b
    lines = [f"lab {plan.lab.name}, network {plan.network}: measured from {a.name} on "
             f"{a.host} to {b.name} on {b.host} (iperf3 {settings.seconds:g} s, "
             f"{settings.pings} pings, {settings.starts} starts)"]
    width = max(len(v.driver) for v in plan.variants)
    lines += [f"  {v.driver.ljust(width)}  {v.rewritten}" for v in plan.variants]
    return "\n".join(lines) + "\n"


def rate(bps: float | None) -> str:
    if bps is None:
        return "-"
    return f"{bps / 1e9:.2f} Gbit/s" if bps >= 1e9 else f"{bps / 1e6:.0f} Mbit/s"


def _expect(r: Row) -> str:
    if r.error is not None and not r.checks:
        return "-"
    return f"{r.passed}/{r.checks}" + ("" if r.passed == r.checks else " FAILED")


def table(rows: list[Row]) -> str:
    cells = [["DRIVER", "CARRIED BY", "MTU", "EXPECT", "THROUGHPUT", "RTT", "REACH", "WALL"]]
    for r in rows:
        cells.append([r.driver, r.carried_by, str(r.mtu or "-"), _expect(r), rate(r.bps),
                      "-" if r.rtt_ms is None else f"{r.rtt_ms:.3f} ms",
                      "-" if r.reach_s is None else f"{r.reach_s:.3f} s",
                      f"{r.seconds.get('total', 0.0):.1f} s"])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    for r in rows:
        lines += [f"{r.driver}: {line}" for line in r.failures]
        if r.error is not None:
            lines.append(f"{r.driver}: FAILED {r.error}")
    return "\n".join(lines) + "\n"


def as_json(plan: Plan, settings: Settings, rows: list[Row]) -> str:
    doc = {
        "lab": plan.lab.name, "file": plan.lab.file, "network": plan.network,
        "from": {"container": plan.a.name, "host": plan.a.host},
        "to": {"container": plan.b.name, "host": plan.b.host},
        "settings": {"seconds": settings.seconds, "pings": settings.pings,
                     "starts": settings.starts},
        "passed": all(r.ok for r in rows),
        "drivers": [{
            "driver": r.driver, "lab": r.lab, "rewritten": r.rewritten,
            "carried_by": r.carried_by, "mtu": r.mtu,
            "expectations": {"total": r.checks, "passed": r.passed, "failed": r.failures},
            "throughput_bps": r.bps, "rtt_ms": r.rtt_ms, "reach_s": r.reach_s,
            "reach_runs_s": [round(x, 4) for x in r.reach_runs],
            "seconds": {k: round(v, 3) for k, v in r.seconds.items()},
            "error": r.error,
        } for r in rows],
    }
    return json.dumps(doc, indent=2) + "\n"
