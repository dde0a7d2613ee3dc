"""`fabric image ...` and the `images`/`rmi` aliases."""

import json
import time

import click

from fabric.cli.main import cli
from fabric.cli.table import print_rows, render_format


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


@cli.group(context_settings={"help_option_names": ["--help"]})
def image():
    """Manage images."""


def _ls(obj, quiet, no_trunc, fmt, all_=False):
    from fabric.engine.timefmt import human_ago
    rows = []
    for img in obj.client.get("/images/json"):
        iid = img["Id"] if no_trunc else img["Id"][7:19]
        for tag in img["RepoTags"] or ["<none>:<none>"]:
            repo, _, t = tag.rpartition(":")
            rows.append({"Repository": repo, "Tag": t, "ID": iid,
                         "CreatedSince": human_ago(img["Created"]) if img["Created"] else "N/A",
                         "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z",
                                                    time.localtime(img["Created"])),
                         "Size": human_size(img["Size"])})
    if quiet:
        for iid in dict.fromkeys(r["ID"] for r in rows):
            click.echo(iid)
        return
    if fmt and not fmt.startswith("table"):
        for r in rows:
            click.echo(render_format(fmt, r))
        return
    print_rows(rows, [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "ID"),
                      ("CREATED", "CreatedSince"), ("SIZE", "Size")], fmt)


_ls_opts = [click.option("-q", "--quiet", is_flag=True, help="Only show image IDs."),
            click.option("--no-trunc", is_flag=True, help="Do not truncate output."),
            click.option("--format", "fmt", default=None, help="Go template."),
            click.option("-a", "--all", "all_", is_flag=True, help="Show all images.")]


def _with(opts):
    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


@image.command("ls")
@_with(_ls_opts)
@click.pass_obj
def image_ls(obj, quiet, no_trunc, fmt, all_):
    """List images."""
    _ls(obj, quiet, no_trunc, fmt)


@cli.command("images", context_settings={"help_option_names": ["--help"]})
@_with(_ls_opts)
@click.pass_obj
def images_alias(obj, quiet, no_trunc, fmt, all_):
    """List images (alias of `image ls`)."""
    _ls(obj, quiet, no_trunc, fmt)


def _rm(obj, names, force):
    from fabric.cli.containers import _each

    def one(n):
        for item in obj.client.call("DELETE", f"/images/{n}", {"force": force}):
            for k, v in item.items():
                click.echo(f"{k}: {v}")
    _each(names, one)


@image.command("rm")
@click.option("-f", "--force", is_flag=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def image_rm(obj, names, force):
    """Remove one or more images."""
    _rm(obj, names, force)


@cli.command("rmi", context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--force", is_flag=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rmi_alias(obj, names, force):
    """Remove one or more images (alias of `image rm`)."""
    _rm(obj, names, force)


@image.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_obj
def image_tag(obj, source, target):
    """Create a tag TARGET that refers to SOURCE."""
    repo, _, tag = target.rpartition(":") if ":" in target.rsplit("/", 1)[-1] else (target, "", "")
    obj.client.call("POST", f"/images/{source}/tag", {"repo": repo, "tag": tag or None})


cli.add_command(image_tag, "tag")


@image.command("inspect")
@click.option("-f", "--format", "fmt", default=None)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def image_inspect(obj, names, fmt):
    """Display detailed information on images."""
    docs = [obj.client.get(f"/images/{n}/json") for n in names]
    if fmt:
        for d in docs:
            click.echo(render_format(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))
