"""Bare namespaces: a host's kernel side without root or daemon, for kernel-level
tests and benchmarks (a "host", "outside" and "containers" made of namespaces).

Names start with `fab` like every namespace fabric makes; the caller supplies the rest,
unique (a random tag), and removes them all at once, whatever still runs inside.
"""

from fabric import procs
from fabric.errors import FabricError, InvalidArgument
from fabric.net import netns

PREFIX = "fab"


def make(name: str) -> str:
    """Create namespace `name` (starting with "fab"), lo up; Conflict if it exists."""
    if not name.startswith(PREFIX):
        raise InvalidArgument(f"namespace {name!r}: fabric's namespace names start with "
                              f"{PREFIX!r}")
    netns.create(name)
    return name


def remove(*names: str) -> None:
    """Kill whatever lives in these namespaces, then remove them; absent ones are
    already removed. FabricError naming every one that failed."""
    errors = []
    idents = [i for i in (netns.identity(n) for n in names) if i is not None]
    left = procs.kill(procs.in_namespaces(idents))
    if left:
        errors.append(f"processes {sorted(left)} did not die")
    for n in names:
        try:
            netns.remove(n)
        except FabricError as e:
            errors.append(e.message)
    if errors:
        raise FabricError(f"removing namespaces {', '.join(names)}: {'; '.join(errors)}")


class Namespaces:
    """Namespaces named `<prefix><role>`, removed together (latest first) by
    `remove()` or on leaving a `with` block."""

    def __init__(self, prefix: str):
        if not prefix.startswith(PREFIX):
            raise InvalidArgument(f"namespace prefix {prefix!r} must start with {PREFIX!r}")
        self.prefix = prefix
        self.made: list[str] = []

    def make(self, role: str) -> str:
        name = make(self.prefix + role)
        self.made.append(name)
        return name

    def remove(self) -> None:
        made, self.made = self.made, []
        remove(*reversed(made))

    def __enter__(self) -> "Namespaces":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
