"""`fabric volume ...`."""

import json

import click

from fabric.cli.each import each
from fabric.cli.humanize import human_size
from fabric.cli.main import cli
from fabric.cli.table import print_rows, render_format


@cli.group(context_settings={"help_option_names": ["--help"]})
def volume():
    """Manage volumes."""


@volume.command("create")
@click.option("-d", "--driver", default="local")
@click.option("--label", multiple=True)
@click.option("-o", "--opt", multiple=True)
@click.argument("name", required=False)
@click.pass_obj
def volume_create(obj, name, driver, label, opt):
    """Create a volume."""
    labels = dict(lab.partition("=")[::2] for lab in label)
    opts = dict(o.partition("=")[::2] for o in opt)
    doc = obj.client.post("/volumes/create", {"Name": name or "", "Driver": driver,
                                              "Labels": labels, "DriverOpts": opts})
    click.echo(doc["Name"])


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-f", "--filter", "filters", multiple=True)
@click.option("--format", "fmt", default=None)
@click.pass_obj
def volume_ls(obj, quiet, filters, fmt):
    """List volumes."""
    flt: dict[str, list[str]] = {}
    for f in filters:
        k, _, v = f.partition("=")
        flt.setdefault(k, []).append(v)
    vols = obj.client.get("/volumes", filters=json.dumps(flt) if flt else None)["Volumes"]
    if quiet:
        for v in vols:
            click.echo(v["Name"])
        return
    print_rows(vols, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")], fmt)


@volume.command("inspect")
@click.option("-f", "--format", "fmt", default=None)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def volume_inspect(obj, names, fmt):
    """Display detailed information on volumes."""
    docs = [obj.client.get(f"/volumes/{n}") for n in names]
    if fmt:
        for d in docs:
            click.echo(render_format(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))


@volume.command("rm")
@click.option("-f", "--force", is_flag=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def volume_rm(obj, names, force):
    """Remove volumes."""
    each(names, lambda n: (obj.client.call("DELETE", f"/volumes/{n}", {"force": force}),
                           click.echo(n)))


@volume.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def volume_prune(obj, force):
    """Remove all unused local volumes."""
    if not force and not click.confirm("WARNING! This will remove all local volumes not used "
                                       "by at least one container.\nAre you sure you want to "
                                       "continue?"):
        return
    doc = obj.client.post("/volumes/prune")
    if doc["VolumesDeleted"]:
        click.echo("Deleted Volumes:")
        for n in doc["VolumesDeleted"]:
            click.echo(n)
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(doc['SpaceReclaimed'], 4)}")

