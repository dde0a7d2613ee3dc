"""What `fabric doctor` finds: one line each, with the command that fixes it, and for
what fabric owns the repair `--fix` runs."""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Finding:
    check: str              # "ip-forward", "forward-drop", "orphan-interface", ...
    what: str               # one line: what is wrong and what it breaks
    fix: str                # the command that fixes it
    # fabric owns what is wrong: `--fix` runs this. None: left to the user (Docker's
    # policy, a foreign route, an underlay's MTU), who gets the command instead.
    repair: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    fixed: bool = False
    failed: str = ""        # the repair ran and failed: why

    @property
    def fixable(self) -> bool:
        return self.repair is not None

    def json(self) -> dict:
        return {"check": self.check, "what": self.what, "fix": self.fix,
                "fixable": self.fixable, "fixed": self.fixed,
                **({"failed": self.failed} if self.failed else {})}


def line(f: dict, prefix: str = "") -> str:
    """A finding (as json() has it) for people, one line."""
    if f.get("fixed"):
        return f"{prefix}fixed: {f['what']} ({f['fix']})"
    if f.get("failed"):
        return f"{prefix}{f['what']}: --fix failed ({f['failed']}); fix: {f['fix']}"
    left = "" if f.get("fixable") else " (left to you)"
    return f"{prefix}{f['what']}; fix{left}: {f['fix']}"
