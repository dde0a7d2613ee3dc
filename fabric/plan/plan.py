"""A plan: an ordered tuple of steps, and whether it is a teardown."""

from dataclasses import dataclass

from fabric.plan.ops import Op


@dataclass(frozen=True)
class Plan:
    ops: tuple[Op, ...] = ()
    # Teardown plans run every step even when one fails (already gone is success,
    # other errors are collected) and are never rolled back.
    best_effort: bool = False
    title: str = ""

    def __add__(self, other: "Plan") -> "Plan":
        return Plan(self.ops + other.ops, self.best_effort and other.best_effort,
                    self.title or other.title)

    def __len__(self) -> int:
        return len(self.ops)

    def rebase(self, host_ns: str | None) -> "Plan":
        return Plan(tuple(op.rebase(host_ns) for op in self.ops), self.best_effort,
                    self.title)

    def describe(self, host_ns: str | None = None) -> list[str]:
        """The shell commands, one string per step, in order."""
        return [op.describe() for op in self.rebase(host_ns).ops]

    def script(self, host_ns: str | None = None) -> str:
        return "\n".join(self.describe(host_ns)) + ("\n" if self.ops else "")


def plan(*ops: Op, best_effort: bool = False, title: str = "") -> Plan:
    return Plan(tuple(ops), best_effort, title)
