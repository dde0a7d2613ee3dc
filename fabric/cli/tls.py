"""`fabric tls init DIR`: the certificates for the API over TCP with mutual TLS, as the
seeds' openssl steps make them, in one command (fabric.certgen). It needs no daemon."""

import os

import click

from fabric.cli.main import cli


@cli.group("tls", context_settings={"help_option_names": ["--help"]})
def tls_group():
    """Certificates for the daemon's TCP listener with mutual TLS."""


@tls_group.command("init", context_settings={"help_option_names": ["--help"]})
@click.argument("directory", metavar="DIR")
@click.option("--host", "hosts", multiple=True, metavar="NAME|IP",
              help="A name or address clients connect with, for the server certificate "
                   "(repeatable; default localhost, 127.0.0.1, ::1 and this machine's names).")
@click.option("--days", type=int, default=365, show_default=True,
              help="How long the certificates are valid.")
@click.option("--force", is_flag=True, help="Replace certificates already in DIR.")
def tls_init(directory, hosts, days, force):
    """Make a CA, a server and a client certificate in DIR.

    Writes ca.pem and ca-key.pem (the CA), server-cert.pem and server-key.pem (for
    `fabric daemon --tlsverify --tlscacert DIR/ca.pem --tlscert DIR/server-cert.pem
    --tlskey DIR/server-key.pem -H tcp://0.0.0.0:2376`) and cert.pem and key.pem (for
    clients: `FABRIC_CERT_PATH=DIR fabric --tlsverify -H tcp://HOST:2376 ...`, or
    `DOCKER_CERT_PATH=DIR docker --tlsverify ...`). Keys are readable by their owner only.
    """
    from fabric import certgen
    from fabric.errors import FabricError
    try:
        paths = certgen.init(os.path.abspath(directory), list(hosts), days, force)
    except FabricError as e:
        raise SystemExit(f"Error: {e.message}") from None
    except OSError as e:
        raise SystemExit(f"Error: {e}") from None
    for p in paths:
        click.echo(p)
