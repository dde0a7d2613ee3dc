"""`fabric host add|ls|rm|exec`: hosts on this machine (fabric.host).

These commands work on the host registry and namespaces directly, never through a
daemon: they start no local daemon and make nothing in the machine's own namespace
beyond the hosts' namespaces and the registry. Off the CLI's hot path, they may import
more than the client.
"""

import json
import os
import sys

import click

from fabric.cli.main import cli
from fabric.cli.table import print_rows
from fabric.errors import FabricError

# what a host command reports in one line: fabric's own errors, and the system's (not
# root, a full disk)
FAILURES = (FabricError, OSError)


def _message(e: Exception) -> str:
    return e.message if isinstance(e, FabricError) else str(e)


def _key_values(ctx, param, values) -> dict:
    pairs = [v.partition("=") for v in values]
    bad = [v for v, (key, eq, _) in zip(values, pairs) if not (key and eq)]
    if bad:
        raise click.BadParameter(f"{bad[0]!r}: use KEY=VALUE")
    return {key: value for key, _, value in pairs}


@cli.group("host", context_settings={"help_option_names": ["--help"]})
def host_group():
    """Manage hosts on this machine (a namespace, a root and its daemon each)."""


@host_group.command("add")
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
              callback=_key_values,
              help="A daemon network setting for the host (bip, mtu, icc, ...).")
@click.option("--no-start", is_flag=True, help="Do not start its daemon yet (the first "
              "command for the host will).")
@click.argument("name")
def host_add(name, settings, no_start):
    """Make a host: its namespace, root and daemon."""
    from fabric.host import hosts
    try:
        h = hosts.add(name, settings=settings or None, start=not no_start)
    except FAILURES as e:
        raise click.ClickException(_message(e)) from None
    click.echo(h.name)


@host_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@click.option("--format", "fmt", default=None, help="Go template, 'table TEMPLATE' or json.")
def host_ls(quiet, fmt):
    """List hosts."""
    from fabric.host import hosts
    rows = []
    for h in hosts.list_all():
        if h.record.url is not None:    # a lab host on another machine: where it is
            rows.append({"Name": h.name, "Lab": h.lab or "", "Namespace": "-",
                         "Daemon": "remote", "Pid": "", "Root": h.record.url})
            continue
        pid = h.daemon_pid()
        rows.append({"Name": h.name, "Lab": h.lab or "", "Namespace": h.netns,
                     "Daemon": "running" if pid else "stopped", "Pid": pid or "",
                     "Root": h.root.path})
    if quiet:
        for r in rows:
            click.echo(r["Name"])
    elif fmt == "json":
        for r in rows:
            click.echo(json.dumps(r))
    else:
        print_rows(rows, [("NAME", "Name"), ("LAB", "Lab"), ("NAMESPACE", "Namespace"),
                          ("DAEMON", "Daemon"), ("ROOT", "Root")], fmt)


@host_group.command("rm")
@click.argument("names", nargs=-1, required=True)
def host_rm(names):
    """Remove hosts with everything on them (containers, networks, files)."""
    from fabric.host import hosts
    failed = False
    for n in names:
        try:
            hosts.remove(n)
            click.echo(n)
        except FAILURES as e:
            click.echo(f"Error: {_message(e)}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@host_group.command("exec", context_settings={"ignore_unknown_options": True,
                                              "allow_interspersed_args": False})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def host_exec(name, command):
    """Run a command inside a host's network namespace (as `ip netns exec`)."""
    from fabric.host import hosts
    try:
        argv = hosts.get(name).command(list(command))
    except FAILURES as e:
        raise click.ClickException(_message(e)) from None
    sys.stdout.flush()
    os.execvp(argv[0], argv)
