"""The `fabric` command: a thin client of the daemon. It imports click and the standard
library only; everything that touches the kernel runs in the daemon."""

import os
import sys

import click

from fabric import __version__
from fabric.paths import default_root


class Ctx:
    def __init__(self, host: str | None, root: str):
        self.host, self.root = host, root
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from fabric.client.connect import connect
            self._client = connect(self.host, self.root)
        return self._client


class FabricGroup(click.Group):
    """Docker-style aliases (`images`, `rmi`) and errors as one line."""

    def invoke(self, ctx):
        from fabric.client.http import ApiError, DaemonUnavailable
        try:
            return super().invoke(ctx)
        except ApiError as e:
            click.echo(f"Error response from daemon: {e.message}", err=True)
            sys.exit(_exit_code(e))
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
              help="Daemon socket: unix:///path/fabric.sock (default: the root's socket, "
                   "or $FABRIC_HOST).")
@click.option("--root", default=None, metavar="DIR",
              help="Host root (default $FABRIC_ROOT or /var/lib/fabric).")
@click.version_option(__version__, "-v", "--version-flag", prog_name="fabric")
@click.pass_context
def cli(ctx, host, root):
    """fabric: containers on real kernel datapaths, Docker's language."""
    ctx.obj = Ctx(host, os.path.abspath(root) if root else default_root())


def main() -> None:
    from fabric.cli import commands  # noqa: F401  (registers the commands)
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
