"""Import every command module so each registers its commands on the group."""

from fabric.cli import containers, images, run, system, volumes  # noqa: F401

for _optional in ("fabric.cli.extra", "fabric.cli.network", "fabric.cli.firewall",
                  "fabric.cli.registry", "fabric.cli.build"):
    try:
        __import__(_optional)
    except ImportError as _e:
        if _e.name != _optional:
            raise
