"""Query parameters in Docker's formats that several resources' routes read."""

import json
import time

from fabric.daemon.http import Request
from fabric.engine.timefmt import parse_iso


def filters(req: Request) -> dict[str, list[str]]:
    """`?filters=` as {key: [values]}."""
    raw = req.query.get("filters")
    if not raw:
        return {}
    doc = json.loads(raw)
    # Docker accepts both {"k": ["v"]} and {"k": {"v": true}}.
    return {k: (list(v) if isinstance(v, (list, dict)) else [v]) for k, v in doc.items()}


def time_arg(v: str | None) -> float | None:
    """Docker's --since/--until: a Unix timestamp, an RFC 3339 time or a duration ago."""
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600}
    if v[-1] in units and v[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(v[:-1]) * units[v[-1]]
    return parse_iso(v)
