"""`build` (and `image build`): send a context to the daemon, show its steps."""

import io
import os
import sys
import tarfile
import tempfile

import click

from fabric.cli.images import image, with_options
from fabric.cli.main import cli


def _build_args(values: tuple[str, ...]) -> dict:
    out: dict = {}
    for v in values:
        k, eq, val = v.partition("=")
        out[k] = val if eq else os.environ.get(k)
    return out


_opts = [
    click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag."),
    click.option("-f", "--file", "dockerfile", default=None,
                 help="Name of the Dockerfile (default: PATH/Dockerfile)."),
    click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables."),
    click.option("--no-cache", is_flag=True, help="Do not use cache when building the image."),
    click.option("--target", default="", help="Set the target build stage to build."),
    click.option("--label", "labels", multiple=True, help="Set metadata for an image."),
    click.option("-q", "--quiet", is_flag=True,
                 help="Suppress the build output and print image ID on success."),
]



def _build(obj, context, tags, dockerfile, build_args, no_cache, target, labels, quiet):
    import json

    from fabric.client.jsonstream import Display, StreamError, messages
    with tempfile.TemporaryFile() as body:
        if context == "-":
            data = sys.stdin.buffer.read()
            with tarfile.open(fileobj=body, mode="w") as tf:
                ti = tarfile.TarInfo("Dockerfile")
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            df_name = "Dockerfile"
        else:
            if not os.path.isdir(context):
                raise click.ClickException(f"unable to prepare context: path {context!r} "
                                           "not found")
            from fabric.builder import context_tar
            from fabric.errors import InvalidArgument
            try:
                df_name = context_tar.write(context, dockerfile, body)
            except InvalidArgument as e:
                raise click.ClickException(e.message) from None
        size = body.tell()
        body.seek(0)
        if not quiet:
            from fabric.images.progress import human
            click.echo(f"Sending build context to the fabric daemon  {human(size)}")
        query = {"t": "\n".join(tags) or None, "dockerfile": df_name,
                 "buildargs": json.dumps(_build_args(build_args)) if build_args else None,
                 "labels": json.dumps(dict(lab.partition("=")[::2] for lab in labels))
                 if labels else None,
                 "nocache": no_cache or None, "target": target or None}
        resp = obj.client.request("POST", "/build", query, upload=body)
        d = Display()
        try:
            for msg in messages(resp):
                if not quiet or msg.get("error") or "aux" in msg:
                    d.show(msg)
        except StreamError as e:
            click.echo(e.message, err=True)
            sys.exit(e.code or 125)
    if quiet and d.aux:
        click.echo(d.aux[-1].get("ID", ""))


@cli.command("build", context_settings={"help_option_names": ["--help"]})
@with_options(_opts)
@click.argument("context", metavar="PATH | -")
@click.pass_obj
def build(obj, context, **o):
    """Build an image from a Dockerfile."""
    _build(obj, context, **o)


@image.command("build")
@with_options(_opts)
@click.argument("context", metavar="PATH | -")
@click.pass_obj
def image_build(obj, context, **o):
    """Build an image from a Dockerfile."""
    _build(obj, context, **o)
