"""`fabric image ...` and the `images`/`rmi` aliases."""

import json
import time

import click

from fabric.cli.each import each
from fabric.cli.humanize import human_ago, human_size
from fabric.cli.main import cli
from fabric.cli.table import print_rows, render_format


@cli.group(context_settings={"help_option_names": ["--help"]})
def image():
    """Manage images."""


def _ls(obj, quiet, no_trunc, fmt, all_=False, reference=None):
    rows = []
    want_repo, want_tag = _split_ref(reference) if reference else (None, None)
    for img in obj.client.get("/images/json"):
        iid = img["Id"] if no_trunc else img["Id"][7:19]
        for tag in img["RepoTags"] or ["<none>:<none>"]:
            repo, _, t = tag.rpartition(":")
            # `images REPO[:TAG]` as Docker: only that repository (and tag).
            if want_repo and (repo != want_repo or (want_tag and t != want_tag)):
                continue
            rows.append({"Repository": repo, "Tag": t, "ID": iid,
                         "CreatedSince": human_ago(img["Created"]) if img["Created"] else "N/A",
                         "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z",
                                                    time.localtime(img["Created"])),
                         "Size": human_size(img["Size"])})
    if quiet:
        for iid in dict.fromkeys(r["ID"] for r in rows):
            click.echo(iid)
        return
    print_rows(rows, [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "ID"),
                      ("CREATED", "CreatedSince"), ("SIZE", "Size")], fmt)


_ls_opts = [click.option("-q", "--quiet", is_flag=True, help="Only show image IDs."),
            click.option("--no-trunc", is_flag=True, help="Do not truncate output."),
            click.option("--format", "fmt", default=None, help="Go template."),
            click.option("-a", "--all", "all_", is_flag=True, help="Show all images.")]


def with_options(opts):
    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


@image.command("ls")
@with_options(_ls_opts)
@click.argument("reference", required=False)
@click.pass_obj
def image_ls(obj, quiet, no_trunc, fmt, all_, reference):
    """List images."""
    _ls(obj, quiet, no_trunc, fmt, reference=reference)


@cli.command("images", context_settings={"help_option_names": ["--help"]})
@with_options(_ls_opts)
@click.argument("reference", required=False)
@click.pass_obj
def images_alias(obj, quiet, no_trunc, fmt, all_, reference):
    """List images (alias of `image ls`)."""
    _ls(obj, quiet, no_trunc, fmt, reference=reference)


def _rm(obj, names, force):
    def one(n):
        for item in obj.client.call("DELETE", f"/images/{n}", {"force": force}):
            for k, v in item.items():
                click.echo(f"{k}: {v}")
    each(names, one)


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


# ---- archives ---------------------------------------------------------------------------
def _open_input(path):
    import sys
    if path in (None, "-"):
        if sys.stdin.isatty():
            raise click.ClickException("requested load from stdin, but stdin is empty")
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        raise click.ClickException(f"open {path}: {e.strerror.lower()}") from None


def _messages(resp):
    """Docker's JSON message stream: one object per line; an error ends it."""
    resp.raise_for_status()
    for line in resp.read().splitlines():
        if line.strip():
            yield json.loads(line)


@image.command("import")
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image.")
@click.option("-m", "--message", default="", help="Set commit message for imported image.")
@click.option("--platform", default=None, hidden=True)
@click.argument("file")
@click.argument("reference", required=False)
@click.pass_obj
def image_import(obj, changes, message, platform, file, reference):
    """Import the contents from a tarball to create a filesystem image."""
    repo, tag = _split_ref(reference)
    src = _open_input(file)
    resp = obj.client.request("POST", "/images/create",
                              {"fromSrc": "-", "repo": repo, "tag": tag, "message": message or None,
                               "changes": "\n".join(changes) or None}, upload=src)
    for m in _messages(resp):
        if "status" in m:
            click.echo(m["status"])


cli.add_command(image_import, "import")


def _split_ref(ref):
    if not ref:
        return None, None
    if ":" in ref.rsplit("/", 1)[-1]:
        repo, _, tag = ref.rpartition(":")
        return repo, tag
    return ref, None


@image.command("load")
@click.option("-i", "--input", "path", default=None,
              help="Read from tar archive file, instead of STDIN.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output.")
@click.pass_obj
def image_load(obj, path, quiet):
    """Load an image from a tar archive (docker save or OCI layout) or STDIN."""
    src = _open_input(path)
    resp = obj.client.request("POST", "/images/load", {"quiet": quiet}, upload=src)
    for m in _messages(resp):
        if not quiet and m.get("stream"):
            click.echo(m["stream"], nl=False)


cli.add_command(image_load, "load")


@image.command("save")
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT.")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def image_save(obj, output, names):
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    import os
    import sys
    if output is None and sys.stdout.isatty():
        raise click.ClickException("cowardly refusing to save to a terminal. Use the -o flag "
                                   "or redirect")
    resp = obj.client.request("GET", "/images/get", {"names": "\n".join(names)})
    resp.raise_for_status()
    if output is None:
        out = sys.stdout.buffer
        for chunk in resp.chunks():
            out.write(chunk)
        out.flush()
        return
    # Written beside the target and renamed, so a failure never leaves half an archive.
    tmp = f"{output}.fabric-{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            for chunk in resp.chunks():
                f.write(chunk)
        os.replace(tmp, output)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


cli.add_command(image_save, "save")


@image.command("history")
@click.option("-H", "--human", type=bool, default=True, help="Print sizes and dates in "
              "human readable format.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--format", "fmt", default=None, help="Go template.")
@click.argument("name")
@click.pass_obj
def image_history(obj, human, no_trunc, quiet, fmt, name):
    """Show the history of an image."""
    rows = []
    for h in obj.client.get(f"/images/{name}/history"):
        iid = h["Id"] if no_trunc or h["Id"] == "<missing>" else h["Id"][7:19]
        by = h["CreatedBy"]
        if not no_trunc and len(by) > 45:
            by = by[:44] + "…"
        created = (human_ago(h["Created"]) if human else
                   time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h["Created"]))) \
            if h["Created"] else "N/A"
        rows.append({"ID": iid, "CreatedSince": created, "CreatedBy": by,
                     "Size": human_size(h["Size"]) if human else str(h["Size"]),
                     "Comment": h["Comment"]})
    if quiet:
        for r in rows:
            click.echo(r["ID"])
        return
    print_rows(rows, [("IMAGE", "ID"), ("CREATED", "CreatedSince"), ("CREATED BY", "CreatedBy"),
                      ("SIZE", "Size"), ("COMMENT", "Comment")], fmt)


cli.add_command(image_history, "history")


@image.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just "
              "dangling ones.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def image_prune(obj, all_, force):
    """Remove unused images."""
    if not force:
        what = ("all images without at least one container associated to them" if all_
                else "all dangling images")
        click.echo(f"WARNING! This will remove {what}.")
        if not click.confirm("Are you sure you want to continue?", default=False,
                             show_default=True):
            return
    filters = json.dumps({"dangling": {"false" if all_ else "true": True}})
    rep = obj.client.call("POST", "/images/prune", {"filters": filters})
    if rep.get("ImagesDeleted"):
        click.echo("Deleted Images:")
        for item in rep["ImagesDeleted"]:
            for k, v in item.items():
                click.echo(f"{k.lower()}: {v}")
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(rep.get('SpaceReclaimed') or 0)}")


# ---- commit and diff --------------------------------------------------------------------
@cli.command("commit", context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith '
              '<hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image.")
@click.option("-m", "--message", default="", help="Commit message.")
@click.option("-p", "--pause", type=bool, default=True,
              help="Pause container during commit (default true).")
@click.argument("container")
@click.argument("reference", required=False)
@click.pass_obj
def commit(obj, author, changes, message, pause, container, reference):
    """Create a new image from a container's changes."""
    repo, tag = _split_ref(reference)
    rep = obj.client.call("POST", "/commit", {
        "container": container, "repo": repo, "tag": tag, "comment": message or None,
        "author": author or None, "changes": "\n".join(changes) or None, "pause": pause})
    click.echo(rep["Id"])


@cli.command("diff", context_settings={"help_option_names": ["--help"]})
@click.argument("container")
@click.pass_obj
def diff(obj, container):
    """Inspect changes to files or directories on a container's filesystem."""
    for ch in obj.client.get(f"/containers/{container}/changes") or []:
        click.echo(f"{'CAD'[ch['Kind']]} {ch['Path']}")
