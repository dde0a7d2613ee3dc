"""Import every command module so each registers its commands on the group."""

from fabric.cli import (  # noqa: F401
    containers,
    extra,
    firewall,
    host,
    images,
    network,
    run,
    system,
    volumes,
)
