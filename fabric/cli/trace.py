"""`fabric trace FROM TO`: one probe followed hop by hop through a host, and why it
died where it did (fabric/trace). `fabric lab trace` (fabric/cli/lab.py) shares the
options and the output.

The kernel work runs in the daemon; this side resolves names, arms, sends, collects
and tells, importing the client, the prober's plain values and the trace's pure
modules, never pyroute2 or nftables.
"""

import json
import sys

import click

from fabric.cli.main import cli

OPTIONS = (
    click.option("--proto", type=click.Choice(["icmp", "tcp", "udp"]), default="icmp",
                 show_default=True, help="The probe's protocol."),
    click.option("--port", type=click.IntRange(1, 65535), default=None,
                 help="Destination port (tcp and udp)."),
    click.option("--timeout", type=click.FloatRange(0.05, 5.0), default=0.5,
                 show_default=True, help="Seconds to wait for the answer."),
    click.option("--json", "as_json", is_flag=True,
                 help="The hops as JSON (host, namespace, interface, stage, verdict, "
                      "rule, reason), with the verdict beside them."),
    click.option("-v", "--verbose", is_flag=True,
                 help="Also chains that let the packet pass without a rule matching, "
                      "and every rule of each chain's walk."),
)


def options(fn):
    for opt in reversed(OPTIONS):
        fn = opt(fn)
    return fn


def show(story, as_json: bool, verbose: bool) -> None:
    from fabric.trace import render
    if as_json:
        click.echo(json.dumps(story.doc(), indent=2))
    else:
        click.echo(render.text(story, verbose), nl=False)


@cli.command("trace", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", metavar="FROM")
@click.argument("dst", metavar="TO")
@options
@click.pass_obj
def trace(obj, src, dst, proto, port, timeout, as_json, verbose):
    """Send one probe from FROM to TO and follow it hop by hop (bridges, routes, NAT,
    every nftables or iptables chain), the answer too. FROM and TO: a container,
    `host`, or (TO) an address."""
    from fabric.errors import FabricError
    from fabric.trace import local
    from fabric.trace.run import Want, run
    try:
        story = run(local.plan(obj.client, src, dst, Want(proto, port, timeout)))
    except FabricError as e:
        click.echo(f"Error: {e.message}", err=True)
        sys.exit(125)
    show(story, as_json, verbose)
