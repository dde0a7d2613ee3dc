"""`fabric events`: the daemon's event stream, printed as `docker events` prints it."""

import json
import time

import click

from fabric.cli.main import cli


def _line(ev: dict) -> str:
    """Docker's line: local time with nanoseconds, type, action, actor, (attributes)."""
    ns = ev.get("timeNano") or ev.get("time", 0) * 1_000_000_000
    sec, frac = divmod(int(ns), 1_000_000_000)
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(sec)) + f".{frac:09d}"
    tz = time.strftime("%z", time.localtime(sec))
    t += f"{tz[:3]}:{tz[3:]}" if tz not in ("+0000", "") else "Z"
    actor = ev.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    shown = f" ({', '.join(f'{k}={attrs[k]}' for k in sorted(attrs))})" if attrs else ""
    return f"{t} {ev.get('Type')} {ev.get('Action')} {actor.get('ID', '')}{shown}"


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("--since", default=None, help="Show events since a timestamp or duration (10m).")
@click.option("--until", default=None, help="Stream events until this timestamp or duration.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="Filter: type=, event=, container=, network=, image=, label=...")
@click.option("--format", "fmt", default=None, help="Go template, or 'json'.")
@click.pass_obj
def events(obj, since, until, filters, fmt):
    """Get real time events from the daemon."""
    from fabric.cli.containers import parse_filters
    flt = parse_filters(filters)
    r = obj.client.request("GET", "/events", {"since": since, "until": until,
                                              "filters": json.dumps(flt) if flt else None})
    r.raise_for_status()
    buf = b""
    try:
        for chunk in r.chunks():
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                if raw.strip():
                    _show(json.loads(raw), fmt)
    except KeyboardInterrupt:
        pass


def _show(ev: dict, fmt: str | None) -> None:
    if fmt == "json" or fmt == "{{json .}}":
        click.echo(json.dumps(ev, separators=(",", ":")))
    elif fmt:
        from fabric.cli.table import render_format
        click.echo(render_format(fmt, ev))
    else:
        click.echo(_line(ev))
