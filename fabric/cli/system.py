"""info, version, daemon."""

import json

import click

from fabric import API_VERSION, __version__
from fabric.cli.main import cli


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Go template.")
@click.pass_obj
def version(obj, fmt):
    """Show the client and daemon versions."""
    import platform
    client = {"Version": __version__, "ApiVersion": API_VERSION,
              "PythonVersion": platform.python_version(), "Os": "linux",
              "Arch": platform.machine()}
    server = obj.client.get("/version")
    if fmt:
        from fabric.cli.table import render_format
        click.echo(render_format(fmt, {"Client": client, "Server": server}))
        return
    click.echo("Client:")
    for k in ("Version", "ApiVersion", "PythonVersion", "Os", "Arch"):
        click.echo(f" {k + ':':<16}{client[k]}")
    click.echo("\nServer:")
    for k in ("Version", "ApiVersion", "MinAPIVersion", "KernelVersion", "Os", "Arch"):
        click.echo(f" {k + ':':<16}{server.get(k, '')}")
    for comp in server.get("Components", [])[1:]:
        click.echo(f" {comp['Name']}:")
        click.echo(f"  {'Version:':<15}{comp['Version']}")


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None, help="Go template.")
@click.pass_obj
def info(obj, fmt):
    """Display system-wide information from both client and daemon."""
    doc = obj.client.get("/info")
    if fmt:
        from fabric.cli.table import render_format
        click.echo(render_format(fmt, doc))
        return
    click.echo("Client:")
    click.echo(f" Version:    {__version__}")
    click.echo(f" Host:       {obj.client.url}")
    click.echo("\nServer:")
    for k in ("Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped",
              "Images", "ServerVersion", "Driver", "LoggingDriver", "CgroupDriver",
              "CgroupVersion", "DefaultRuntime", "KernelVersion", "OperatingSystem", "OSType",
              "Architecture", "NCPU", "MemTotal", "DockerRootDir", "Name", "ID", "Pid",
              "NetworkNamespace"):
        click.echo(f" {k}: {doc.get(k)}")
    click.echo(f" Plugins: {json.dumps(doc.get('Plugins'))}")


@cli.command(context_settings={"help_option_names": ["--help"], "ignore_unknown_options": True})
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def daemon(obj, options):
    """Run the engine daemon for the host root in the foreground.

    Takes dockerd's network options: --bip CIDR, --fixed-cidr CIDR, -b/--bridge NAME,
    --mtu N, --icc/--ip-forward/--ip-masq/--iptables true|false,
    --firewall-backend nftables|iptables; and its API options: -H unix:///PATH or
    tcp://ADDR:PORT (repeatable; the root's own socket is always served), --tlsverify
    --tlscacert FILE --tlscert FILE --tlskey FILE (mutual TLS; `fabric tls init DIR`
    makes the files), --insecure-tcp (TCP without TLS, only when told so). The same
    keys in <root>/settings.json. See `python -m fabric.daemon --help`."""
    from fabric.daemon.main import main as daemon_main
    daemon_main(["--root", obj.root, *options])
