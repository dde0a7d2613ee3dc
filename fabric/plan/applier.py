"""The one place plans touch the kernel: in order, with rollback in reverse.

Modes: "apply" runs silently, "explain" prints each step's command as it runs it,
"dry-run" prints the commands and runs nothing. A `fault` hook called before every step
lets tests fail a chosen one and watch the rollback.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fabric.errors import FabricError
from fabric.plan.context import Context
from fabric.plan.ops import Memo, Op
from fabric.plan.plan import Plan

log = logging.getLogger(__name__)

Mode = Literal["apply", "explain", "dry-run"]
Fault = Callable[[int, Op], None]


class InjectedFault(FabricError):
    """Raised by `fail_step` hooks in tests."""


def fail_step(n: int, exc: BaseException | None = None) -> Fault:
    """A fault hook that fails step `n` (0-based) before it is applied."""
    def hook(i: int, op: Op) -> None:
        if i == n:
            raise exc or InjectedFault(f"injected fault at step {i}: {type(op).__name__}")
    return hook


@dataclass
class Result:
    commands: list[str] = field(default_factory=list)   # every step, described
    changed: list[tuple[Op, Memo]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)     # teardown: what failed

    @property
    def did_change(self) -> bool:
        return bool(self.changed)


class Applier:
    def __init__(self, ctx: Context, *, mode: Mode = "apply",
                 echo: Callable[[str], None] | None = None, fault: Fault | None = None):
        if mode not in ("apply", "explain", "dry-run"):
            raise ValueError(f"unknown mode {mode!r}")
        self.ctx = ctx
        self.mode = mode
        self.echo = echo or (lambda line: None)
        self.fault = fault

    def run(self, plan: Plan) -> Result:
        plan = plan.rebase(self.ctx.host_ns)
        result = Result()
        if self.mode == "dry-run":
            for op in plan.ops:
                self._say(op, result)
            return result
        # link lookups are cached for one plan only: between plans (and after this
        # one) anyone may change the links
        reset = getattr(self.ctx.rtnl, "reset_cache", None) or (lambda: None)
        reset()
        try:
            if plan.best_effort:
                self._teardown(plan, result)
            else:
                self._apply(plan, result)
        finally:
            reset()
        return result

    def _say(self, op: Op, result: Result) -> None:
        line = op.describe()
        result.commands.append(line)
        if self.mode != "apply":
            self.echo(line)

    def _apply(self, plan: Plan, result: Result) -> None:
        for i, op in enumerate(plan.ops):
            self._say(op, result)
            try:
                if self.fault is not None:
                    self.fault(i, op)
                memo = op.apply(self.ctx)
            except BaseException as e:
                self._rollback(result.changed, e)
                raise
            if memo is not None:
                result.changed.append((op, memo))

    def _rollback(self, done: list[tuple[Op, Memo]], cause: BaseException) -> None:
        failures = []
        for op, memo in reversed(done):
            try:
                op.undo(self.ctx, memo)
            except Exception as e:  # keep going: undo as much as possible
                log.warning("rollback of %s failed: %s", op.describe(), e)
                failures.append(f"{op.describe()}: {e}")
        done.clear()
        if failures:
            cause.add_note("rollback incomplete: " + "; ".join(failures))

    def _teardown(self, plan: Plan, result: Result) -> None:
        for i, op in enumerate(plan.ops):
            self._say(op, result)
            try:
                if self.fault is not None:
                    self.fault(i, op)
                memo = op.apply(self.ctx)
            except Exception as e:
                result.errors.append(f"{op.describe()}: {getattr(e, 'message', e)}")
                continue
            if memo is not None:
                result.changed.append((op, memo))
        if result.errors:
            raise FabricError("teardown incomplete: " + "; ".join(result.errors))
