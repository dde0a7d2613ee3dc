"""`pull`, `push`, `login`, `logout` (and `image pull|push`)."""

import sys

import click

from fabric.cli.images import image, with_options
from fabric.cli.main import cli


def _split(ref: str) -> tuple[str, str]:
    """Docker's fromImage/tag pair: the tag or digest goes apart."""
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = ref.rpartition(":")
        return name, tag
    return ref, ""


def _fail(e) -> None:
    click.echo(e.message, err=True)
    sys.exit(125)


def pull_image(client, ref: str, out=None, quiet: bool = False, platform=None) -> None:
    """Pull through the daemon, showing its progress (on stderr for `run`)."""
    from fabric.client import credentials
    from fabric.client.jsonstream import Display, StreamError, messages
    name, tag = _split(ref)
    resp = client.request("POST", "/images/create",
                          {"fromImage": name, "tag": tag or None, "platform": platform},
                          headers=credentials.header(credentials.registry_of(ref)))
    d = Display(out)
    try:
        for msg in messages(resp):
            if not quiet:
                d.show(msg)
            elif msg.get("error"):
                d.show(msg)
    except StreamError as e:
        _fail(e)


def _qualified(ref: str) -> str:
    from fabric.errors import InvalidArgument
    from fabric.images.reference import parse
    try:
        r = parse(ref)
    except InvalidArgument as e:
        raise click.ClickException(e.message) from None
    return r.qualified() if (r.tag or r.digest) else r.with_tag("latest").qualified()


def _pull(obj, ref, quiet, platform):
    if "@" not in ref and ":" not in ref.rsplit("/", 1)[-1] and not quiet:
        click.echo("Using default tag: latest")
    pull_image(obj.client, ref, quiet=quiet, platform=platform)
    click.echo(_qualified(ref))


_pull_opts = [click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output."),
              click.option("--platform", default=None,
                           help="Set platform if server is multi-platform capable.")]



@cli.command("pull", context_settings={"help_option_names": ["--help"]})
@with_options(_pull_opts)
@click.argument("ref", metavar="NAME[:TAG|@DIGEST]")
@click.pass_obj
def pull(obj, quiet, platform, ref):
    """Pull an image from a registry."""
    _pull(obj, ref, quiet, platform)


@image.command("pull")
@with_options(_pull_opts)
@click.argument("ref", metavar="NAME[:TAG|@DIGEST]")
@click.pass_obj
def image_pull(obj, quiet, platform, ref):
    """Pull an image from a registry."""
    _pull(obj, ref, quiet, platform)


def _push(obj, ref, quiet):
    from fabric.client import credentials
    from fabric.client.jsonstream import Display, StreamError, messages
    name, tag = _split(ref)
    if not tag and not quiet:
        click.echo("Using default tag: latest")
    resp = obj.client.request("POST", f"/images/{name}/push", {"tag": tag or None},
                              headers=credentials.header(credentials.registry_of(ref)))
    d = Display()
    try:
        for msg in messages(resp):
            if not quiet or msg.get("error"):
                d.show(msg)
    except StreamError as e:
        _fail(e)
    if quiet:
        click.echo(ref if tag else ref + ":latest")


_push_opts = [click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output.")]


@cli.command("push", context_settings={"help_option_names": ["--help"]})
@with_options(_push_opts)
@click.argument("ref", metavar="NAME[:TAG]")
@click.pass_obj
def push(obj, quiet, ref):
    """Push an image to a registry."""
    _push(obj, ref, quiet)


@image.command("push")
@with_options(_push_opts)
@click.argument("ref", metavar="NAME[:TAG]")
@click.pass_obj
def image_push(obj, quiet, ref):
    """Push an image to a registry."""
    _push(obj, ref, quiet)


@cli.command("login", context_settings={"help_option_names": ["--help"]})
@click.option("-u", "--username", default=None, help="Username.")
@click.option("-p", "--password", default=None, help="Password.")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin.")
@click.argument("server", required=False)
@click.pass_obj
def login(obj, username, password, password_stdin, server):
    """Log in to a registry (credentials kept in ~/.fabric/config.json, Docker's format)."""
    from fabric.client import credentials
    if password and password_stdin:
        raise click.ClickException("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise click.ClickException("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
                   err=True)
    key = credentials.server_key(server)
    if not username:
        if not sys.stdin.isatty():
            raise click.ClickException("Cannot perform an interactive login from a "
                                       "non TTY device")
        username = click.prompt("Username", default="", show_default=False).strip()
    if not password:
        if not sys.stdin.isatty():
            raise click.ClickException("Cannot perform an interactive login from a "
                                       "non TTY device")
        password = click.prompt("Password", hide_input=True, default="", show_default=False)
    rep = obj.client.call("POST", "/auth", body={"username": username, "password": password,
                                                 "serveraddress": key})
    path = credentials.store(key, username, password)
    click.echo(f"WARNING! Your password will be stored unencrypted in {path}.", err=True)
    click.echo(rep.get("Status") or "Login Succeeded")


@cli.command("logout", context_settings={"help_option_names": ["--help"]})
@click.argument("server", required=False)
def logout(server):
    """Log out from a registry (remove its credentials from fabric's config file)."""
    from fabric.client import credentials
    key = credentials.server_key(server)
    if credentials.erase(key):
        click.echo(f"Removing login credentials for {key}")
    else:
        click.echo(f"Not logged in to {key}")


def pull_missing(client, image_ref: str, resp, retry):
    """`run`/`create` after the daemon answered 404: pull the image as Docker's CLI
    does ("Unable to find image ... locally", progress on stderr), then try again."""
    from fabric.client.http import ApiError
    from fabric.images.reference import parse
    try:
        resp.raise_for_status()
        return resp
    except ApiError as e:
        if not e.message.startswith("No such image"):
            raise
    from fabric.errors import InvalidArgument
    try:
        familiar = parse(image_ref).familiar()
    except InvalidArgument as e:
        raise click.ClickException(e.message) from None
    click.echo(f"Unable to find image '{familiar}' locally", err=True)
    pull_image(client, image_ref, out=sys.stderr)
    return retry()
