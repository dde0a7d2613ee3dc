"""Import every command module so each registers its commands on the group."""

from fabric.cli import (  # noqa: F401
    build,
    containers,
    extra,
    firewall,
    host,
    images,
    mesh,
    network,
    registry,
    run,
    system,
    volumes,
)
