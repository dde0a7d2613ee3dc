"""Container commands besides run/create, with Docker's flags, columns and exit codes."""

import json
import sys
import time

import click

from fabric.cli.each import each
from fabric.cli.humanize import human_ago
from fabric.cli.main import cli
from fabric.cli.table import print_rows, render_format


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals.")
@click.option("-i", "--interactive", is_flag=True, help="Attach the container's STDIN.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(obj, containers, attach, interactive):
    """Start one or more stopped containers."""
    c = obj.client
    if attach or interactive:
        from fabric.cli.run import attach_and_start
        doc = c.get(f"/containers/{containers[0]}/json")
        cid = doc["Id"]
        code = attach_and_start(c, cid, tty=bool(doc["Config"].get("Tty")),
                                stdin=interactive and bool(doc["Config"].get("OpenStdin")),
                                rm=bool(doc["HostConfig"].get("AutoRemove")),
                                start=lambda: c.post(f"/containers/{cid}/start"))
        sys.exit(code)
    each(containers, lambda r: (c.post(f"/containers/{r}/start"), click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-t", "--time", "timeout", type=int, default=None,
              help="Seconds to wait before killing it (default 10).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(obj, containers, timeout):
    """Stop one or more running containers."""
    c = obj.client

    def one(r):
        resp = c.request("POST", f"/containers/{r}/stop", {"t": timeout})
        resp.raise_for_status()
        resp.read()
        click.echo(r)
    each(containers, one)


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-t", "--time", "timeout", type=int, default=None,
              help="Seconds to wait before killing it (default 10).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def restart(obj, containers, timeout):
    """Restart one or more containers."""
    c = obj.client
    each(containers, lambda r: (c.call("POST", f"/containers/{r}/restart", {"t": timeout}),
                                click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send (default KILL).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(obj, containers, sig):
    """Kill one or more running containers."""
    c = obj.client
    each(containers, lambda r: (c.call("POST", f"/containers/{r}/kill", {"signal": sig}),
                                click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def pause(obj, containers):
    """Pause all processes within one or more containers."""
    c = obj.client
    each(containers, lambda r: (c.post(f"/containers/{r}/pause"), click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def unpause(obj, containers):
    """Unpause all processes within one or more containers."""
    c = obj.client
    each(containers, lambda r: (c.post(f"/containers/{r}/unpause"), click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--force", is_flag=True, help="Kill and remove a running container.")
@click.option("-v", "--volumes", is_flag=True, help="Remove its anonymous volumes.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(obj, containers, force, volumes):
    """Remove one or more containers."""
    c = obj.client
    each(containers, lambda r: (c.call("DELETE", f"/containers/{r}",
                                       {"force": force, "v": volumes}), click.echo(r)))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("container")
@click.argument("new_name")
@click.pass_obj
def rename(obj, container, new_name):
    """Rename a container."""
    obj.client.call("POST", f"/containers/{container}/rename", {"name": new_name})


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(obj, containers):
    """Block until containers stop, then print their exit codes."""
    c = obj.client
    each(containers, lambda r: click.echo(c.post(f"/containers/{r}/wait")["StatusCode"]))


PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
              ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"),
              ("NAMES", "Names")]


def parse_filters(filters) -> dict[str, list[str]]:
    """-f NAME=VALUE options as Docker's `filters` query parameter wants them."""
    flt: dict[str, list[str]] = {}
    for f in filters:
        k, eq, v = f.partition("=")
        if not eq:
            raise click.ClickException(f"bad format of filter {f!r}: expected name=value")
        flt.setdefault(k, []).append(v)
    return flt


def _ps_fields(row: dict, no_trunc: bool) -> dict:
    cmd = row["Command"]
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    ports = []
    for p in row.get("Ports") or []:
        if p.get("PublicPort"):
            ports.append(f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->"
                         f"{p['PrivatePort']}/{p['Type']}")
        else:
            ports.append(f"{p['PrivatePort']}/{p['Type']}")
    return {
        "ID": row["Id"] if no_trunc else row["Id"][:12],
        "Image": row["Image"], "Command": f'"{cmd}"' if not no_trunc else cmd,
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(row["Created"])),
        "RunningFor": human_ago(row["Created"]), "Status": row["Status"],
        "State": row["State"], "Ports": ", ".join(ports),
        "Names": ",".join(n.lstrip("/") for n in row["Names"]),
        "Labels": ",".join(f"{k}={v}" for k, v in (row.get("Labels") or {}).items()),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in row.get("Mounts") or []),
        "Networks": ",".join((row.get("NetworkSettings") or {}).get("Networks") or {}),
    }


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers.")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container.")
@click.option("-n", "--last", type=int, default=None, help="Show the n last created.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="Filter: name=, status=, ancestor=...")
@click.option("--format", "fmt", default=None, help="Go template, or 'table TEMPLATE'.")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes.")
@click.pass_obj
def ps(obj, all_, latest, last, quiet, no_trunc, filters, fmt, size):
    """List containers."""
    flt = parse_filters(filters)
    limit = 1 if latest else last
    rows = obj.client.get("/containers/json", all=all_ or bool(limit),
                          limit=limit, filters=json.dumps(flt) if flt else None)
    fields = [_ps_fields(r, no_trunc) for r in rows]
    if quiet:
        for f in fields:
            click.echo(f["ID"])
        return
    print_rows(fields, PS_COLUMNS, fmt)


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Go template.")
@click.option("--type", "kind", type=click.Choice(["container", "image", "volume", "network"]),
              default=None, help="Only look for this kind of object.")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes.")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(obj, names, fmt, kind, size):
    """Return low-level information on containers, images, volumes or networks."""
    from fabric.client.http import ApiError
    c = obj.client
    kinds = [kind] if kind else ["container", "image", "volume", "network"]
    paths = {"container": "/containers/{}/json", "image": "/images/{}/json",
             "volume": "/volumes/{}", "network": "/networks/{}"}
    docs, missing = [], []
    for n in names:
        for k in kinds:
            try:
                docs.append(c.get(paths[k].format(n)))
                break
            except ApiError as e:
                if e.status not in (404, 405):
                    raise
        else:
            missing.append(n)
    if fmt:
        for d in docs:
            click.echo(render_format(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))
    for n in missing:
        click.echo(f"Error: No such object: {n}", err=True)
    if missing:
        sys.exit(1)


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("-n", "--tail", default="all", help="Lines to show from the end.")
@click.option("--since", default=None, help="Show logs since a timestamp or duration (42m).")
@click.option("--until", default=None, help="Show logs before a timestamp or duration.")
@click.argument("container")
@click.pass_obj
def logs(obj, container, follow, timestamps, tail, since, until):
    """Fetch the logs of a container."""
    from fabric.cli.streams import output
    c = obj.client
    doc = c.get(f"/containers/{container}/json")
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise click.ClickException(f"invalid --tail {tail!r}: use a number or all")
    r = c.request("GET", f"/containers/{container}/logs",
                  {"follow": follow, "timestamps": timestamps, "tail": tail, "since": since,
                   "until": until, "stdout": True, "stderr": True})
    r.raise_for_status()
    emit = output(bool(doc["Config"].get("Tty")))
    try:
        for chunk in r.chunks():
            emit(chunk)
    except KeyboardInterrupt:
        pass


@cli.command(context_settings={"help_option_names": ["--help"], "allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run the command in the background.")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY.")
@click.option("-e", "--env", multiple=True, help="Set environment variables.")
@click.option("-w", "--workdir", default=None, help="Working directory inside the container.")
@click.option("-u", "--user", default=None, help="Username or UID.")
@click.option("--privileged", is_flag=True, help="Every capability for the command.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec(obj, container, command, detach, interactive, tty, env, workdir, user, privileged):
    """Run a command in a running container."""
    import os

    from fabric.cli import streams
    c = obj.client
    body = {"Cmd": list(command), "Env": list(env), "WorkingDir": workdir or "",
            "User": user or "", "Tty": tty, "AttachStdin": interactive and not detach,
            "AttachStdout": not detach, "AttachStderr": not detach, "Privileged": privileged,
            "Detach": detach}
    r = c.request("POST", f"/containers/{container}/exec", None, body)
    r.raise_for_status()
    eid = r.json()["Id"]
    if detach:
        c.call("POST", f"/exec/{eid}/start", None, {"Detach": True})
        return
    r = c.request("POST", f"/exec/{eid}/start", None, {"Detach": False, "Tty": tty}, upgrade=True)
    if r.status != 101:
        r.raise_for_status()
    if tty and os.isatty(1):
        def resize(h, w):
            try:
                c.request("POST", f"/exec/{eid}/resize", {"h": h, "w": w}).read()
            except Exception:
                pass
        streams.on_resize(resize)
        resize(*streams.terminal_size())
    with streams.raw_terminal(tty and interactive):
        streams.pump(r.sock, r._rest, tty=tty, stdin=interactive)
    info = c.get(f"/exec/{eid}/json")
    sys.exit(info.get("ExitCode") or 0)


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN.")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy signals to the process.")
@click.argument("container")
@click.pass_obj
def attach(obj, container, no_stdin, sig_proxy):
    """Attach to a running container's input and output (ctrl-p ctrl-q detaches)."""
    from fabric.cli.run import attach_and_start
    c = obj.client
    doc = c.get(f"/containers/{container}/json")
    if doc["State"]["Status"] not in ("running", "paused"):
        raise click.ClickException("You cannot attach to a stopped container, start it first")
    stdin = not no_stdin and bool(doc["Config"].get("OpenStdin"))
    sys.exit(attach_and_start(c, doc["Id"], tty=bool(doc["Config"].get("Tty")), stdin=stdin,
                              rm=False, start=None))
