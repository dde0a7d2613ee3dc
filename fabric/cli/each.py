"""Commands that take several names (rm, stop, volume rm...) apply to each in turn."""

import sys
from collections.abc import Callable, Iterable
from typing import Any

import click


def each(refs: Iterable[str], fn: Callable[[str], Any]) -> None:
    """Docker applies a command to every name given and reports failures at the end."""
    from fabric.client.http import ApiError
    failed = False
    for ref in refs:
        try:
            fn(ref)
        except ApiError as e:
            click.echo(f"Error response from daemon: {e.message}", err=True)
            failed = True
    if failed:
        sys.exit(1)
