"""The `fabric` command: a thin client of the daemon. It imports click and the standard
library only; everything that touches the kernel runs in the daemon."""

import os
import sys

import click

from fabric import __version__
from fabric.paths import default_root


class Ctx:
    def __init__(self, host: str | None, root: str, tls_flags: tuple = ()):
        self.host, self.root = host, root
        self.tls_flags = tls_flags   # (tlsverify, tls, tlscacert, tlscert, tlskey)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from fabric.client.connect import TlsOptions, connect
            self._client = connect(self.host, self.root,
                                   tls=TlsOptions.from_env(*self.tls_flags))
        return self._client


# Which module defines each command, so a call imports only its own module: the CLI's
# start-up time is most of a `fabric ps`. Commands missing here still work (every
# module is imported as a fallback), only a little slower.
LAZY = {
    "run": "run", "create": "run",
    **{n: "containers" for n in ("start", "stop", "restart", "kill", "pause", "unpause", "rm",
                                 "rename", "wait", "ps", "inspect", "logs", "exec", "attach")},
    **{n: "images" for n in ("images", "rmi", "tag", "commit", "diff", "history",
                             "import", "load", "save")},
    "image": "image_group", "build": "build",
    **{n: "registry" for n in ("pull", "push", "login", "logout")},
    "volume": "volumes",
    **{n: "system" for n in ("info", "version", "daemon")},
    "firewall": "firewall", "network": "network", "host": "host", "lab": "lab", "tls": "tls",
    "events": "events", "mesh": "mesh", "doctor": "doctor", "trace": "trace",
    **{n: "extra" for n in ("top", "stats", "cp", "port")},
}


class FabricGroup(click.Group):
    """Lazy command modules, and errors as one line."""

    def get_command(self, ctx, name):
        if name not in self.commands:
            mod = LAZY.get(name)
            if mod:
                __import__(f"fabric.cli.{mod}")
            if name not in self.commands:
                from fabric.cli import commands  # noqa: F401
        return self.commands.get(name)

    def list_commands(self, ctx):
        from fabric.cli import commands  # noqa: F401
        for mod in set(LAZY.values()):
            __import__(f"fabric.cli.{mod}")
        return sorted(self.commands)

    def invoke(self, ctx):
        from fabric.client.http import ApiError, ConnectionFailed, DaemonUnavailable
        try:
            return super().invoke(ctx)
        except ApiError as e:
            click.echo(f"Error response from daemon: {e.message}", err=True)
            sys.exit(_exit_code(e))
        except ConnectionFailed as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(125)
        except DaemonUnavailable as e:
            click.echo(f"Error: the fabric daemon went away: {e}", err=True)
            sys.exit(125)
        except KeyboardInterrupt:
            sys.exit(130)


def _exit_code(e) -> int:
    return {"CannotInvoke": 126, "CommandNotFound": 127}.get(e.kind, 125)


@click.group(cls=FabricGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100})
@click.option("-H", "--host", default=None, metavar="HOST",
              help="The daemon to talk to: a host's name (see `fabric host ls`), LAB.HOST, "
                   "local, unix:///path/fabric.sock or tcp://ADDR:PORT (default "
                   "$FABRIC_HOST, else the root's own daemon).")
@click.option("--root", default=None, metavar="DIR",
              help="Host root (default $FABRIC_ROOT or /var/lib/fabric).")
@click.option("--tlsverify", is_flag=True, default=False,
              help="tcp:// over TLS, checking the daemon's certificate against the CA "
                   "(default $FABRIC_TLS_VERIFY).")
@click.option("--tls", is_flag=True, default=False,
              help="tcp:// over TLS without checking the daemon's certificate.")
@click.option("--tlscacert", default=None, metavar="FILE",
              help="The CA that signed the daemon's certificate (default ca.pem in "
                   "$FABRIC_CERT_PATH, else ~/.fabric).")
@click.option("--tlscert", default=None, metavar="FILE",
              help="The client's certificate (default cert.pem there).")
@click.option("--tlskey", default=None, metavar="FILE",
              help="The client's key (default key.pem there).")
@click.version_option(__version__, "-v", "--version", prog_name="fabric",
                      message="%(prog)s version %(version)s")
@click.pass_context
def cli(ctx, host, root, tlsverify, tls, tlscacert, tlscert, tlskey):
    """fabric: containers on real kernel datapaths, Docker's language."""
    ctx.obj = Ctx(host, os.path.abspath(root) if root else default_root(),
                  (tlsverify, tls, tlscacert, tlscert, tlskey))


def main() -> None:
    code = 0
    try:
        _run()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 125)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    # Skip the interpreter's teardown of every imported module: a fifth of a short
    # command's time here. Nothing of ours needs atexit handlers.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


def _run() -> None:
    try:
        cli.main(prog_name="fabric", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        # Docker exits 125 for its own usage errors too.
        click.echo(f"Error: {e.format_message()}", err=True)
        sys.exit(125)
    except click.Abort:
        sys.exit(130)


if __name__ == "__main__":
    main()
