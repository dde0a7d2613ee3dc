"""Query parameters in Docker's formats, and request bodies, as several resources'
routes read them."""

import json
import time
from urllib.parse import parse_qs, urlsplit

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


def repeated(req: Request, name: str) -> list[str]:
    """Every value of a repeated query parameter (Docker repeats `names`, `changes`);
    the parsed req.query keeps only the last one."""
    raw = parse_qs(urlsplit(req.handler.path).query, keep_blank_values=True).get(name, [])
    out = []
    for v in raw:
        out += [x for x in v.split("\n") if x]
    return out


def read_body(req: Request, fn):
    """Run fn on the request body; if it fails part-way, read the rest of the body
    before answering, since closing a socket with unread data resets the connection
    and the client would see that instead of the error."""
    body = req.body_stream()
    try:
        return fn(body)
    except BaseException:
        try:
            while body.read(1 << 20):
                pass
        except OSError:
            pass
        raise


def plan_mode(req: Request) -> str:
    """`?dry_run=1` and `?explain=1` on routes that change the kernel."""
    if req.flag("dry_run"):
        return "dry-run"
    return "explain" if req.flag("explain") else "apply"
