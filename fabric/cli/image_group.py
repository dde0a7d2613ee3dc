"""The `image` group with every subcommand: they live in images.py (ls, rm, tag, load,
save, ...), registry.py (pull, push) and build.py (build)."""

from fabric.cli import build, images, registry  # noqa: F401
