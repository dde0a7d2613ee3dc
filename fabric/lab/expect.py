"""The expectation runner: every check of a lab, concurrently, with retries.

Positive checks (ok, refused) retry until their `within` runs out, because a lab that
just came up is still converging (a daemon adding routes, a server starting). Checks
expecting `blocked` run only after the positive ones have settled, since "nothing
came back" proves nothing while the path is still being built, and they must hold on
3 tries in a row, so one lost packet cannot pass for a firewall.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from fabric.errors import FabricError, InvalidArgument
from fabric.probe import Outcome, Probe, send

EXPECTS = ("ok", "refused", "blocked")
BLOCKED_STREAK = 3
BLOCKED_SPACING = 0.2      # seconds between the starts of two tries of a blocked check
RETRY_FIRST, RETRY_MAX = 0.05, 0.5

Sender = Callable[[str, Probe], Outcome]


@dataclass(frozen=True)
class Check:
    src: str                      # name as written in the file (matrix row)
    dst: str                      # name as written (matrix column), e.g. "b@cnet"
    src_netns: str
    probe: Probe
    expect: str                   # "ok" | "refused" | "blocked"
    within: float = 10.0          # positive checks retry until this runs out
    via: tuple[str, ...] = ()     # the probe's via entries as written ("h1:eth0")
    # who sends the probe when not the prober here (`run`'s sender): a source on another
    # machine is probed by that machine's daemon
    sender: Sender | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.expect not in EXPECTS:
            raise InvalidArgument(f"expect must be one of {', '.join(EXPECTS)}, "
                                  f"not {self.expect!r}")
        if self.via and len(self.via) != len(self.probe.via):
            raise InvalidArgument("a check names each of its probe's via interfaces")

    def via_names(self) -> tuple[str, ...]:
        return self.via or tuple(f"{ns}:{ifname}" for ns, ifname in self.probe.via)

    def label(self) -> str:
        return f"{self.src} -> {self.dst} {self.probe.label()}"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    outcome: Outcome              # the last one observed
    passed: bool
    converged: float | None       # seconds from the check's first try to the start of
    #                               the try from which the expected result held
    tries: int = 0
    elapsed: float = 0.0          # seconds the check took, all tries


def holds(check: Check, outcome: Outcome) -> bool:
    return outcome.result == check.expect and all(outcome.seen_via)


class _Clock:
    def __init__(self, check: Check):
        self.start = time.monotonic()
        self.deadline = self.start + check.within
        self.tries = 0

    def since(self, t: float | None = None) -> float:
        return (time.monotonic() if t is None else t) - self.start

    def begin(self) -> float:
        """The start of a try: the clock's own start for the first one, so a check
        that held from its first try converged in 0.0 s."""
        return self.start if self.tries == 0 else time.monotonic()


def _try(check: Check, clock: _Clock, sender: Sender) -> Outcome:
    clock.tries += 1
    probe = check.probe
    if probe.nbytes is not None:
        # bytes carried "within" the check's time: the transfer gets what is left
        probe = replace(probe, timeout=max(probe.timeout, clock.deadline - time.monotonic()))
    try:
        return (check.sender or sender)(check.src_netns, probe)
    except FabricError as e:
        return Outcome("error", e.message, 0.0)


def _result(check: Check, clock: _Clock, outcome: Outcome, converged: float | None
            ) -> CheckResult:
    return CheckResult(check, outcome, converged is not None, converged, clock.tries,
                       clock.since())


def _positive(check: Check, sender: Sender) -> CheckResult:
    clock = _Clock(check)
    gap = RETRY_FIRST
    while True:
        begun = clock.begin()
        outcome = _try(check, clock, sender)
        if holds(check, outcome):
            return _result(check, clock, outcome, clock.since(begun))
        left = clock.deadline - time.monotonic()
        if outcome.result == "error" or left <= 0:
            return _result(check, clock, outcome, None)
        time.sleep(min(gap, left))   # the last try starts as `within` runs out
        gap = min(gap * 2, RETRY_MAX)


def _blocked(check: Check, sender: Sender) -> CheckResult:
    clock = _Clock(check)
    streak: list[float] = []          # start times of the tries in the current streak
    while True:
        begun = clock.begin()
        outcome = _try(check, clock, sender)
        if outcome.result == "error":
            return _result(check, clock, outcome, None)
        streak = streak + [begun] if holds(check, outcome) else []
        if len(streak) == BLOCKED_STREAK:
            return _result(check, clock, outcome, clock.since(streak[0]))
        # a streak under way may finish past `within`; a new one may not start
        if not streak and time.monotonic() >= clock.deadline:
            return _result(check, clock, outcome, None)
        time.sleep(max(0.0, begun + BLOCKED_SPACING - time.monotonic()))


def run(checks: list[Check], *, parallel: int = 8,
        progress: Callable[[CheckResult], None] | None = None,
        sender: Sender = send) -> list[CheckResult]:
    """Run every check; results in the order of `checks`. `progress` is called with
    each result as it settles (one call at a time). `sender` replaces the prober
    (tests, or a prober that traces)."""
    lock = threading.Lock()
    results: dict[int, CheckResult] = {}

    def one(i: int, body: Callable[[Check, Sender], CheckResult]) -> None:
        res = body(checks[i], sender)
        with lock:
            results[i] = res
            if progress is not None:
                progress(res)

    positive = [i for i, c in enumerate(checks) if c.expect != "blocked"]
    negative = [i for i, c in enumerate(checks) if c.expect == "blocked"]
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="check") as ex:
        for phase, body in ((positive, _positive), (negative, _blocked)):
            for f in [ex.submit(one, i, body) for i in phase]:
                f.result()           # the phase settles before the next begins
    return [results[i] for i in range(len(checks))]
