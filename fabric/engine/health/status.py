"""What checks do to a container's `State.Health`, as Docker's daemon does it
(handleProbeResult): a passing check makes it healthy and clears the failing streak; a
failing one adds to the streak, except while the container is still starting inside
its start period, and `retries` failures in a row make it unhealthy. The log keeps the
last five results. Pure: the checker holds the lock and saves."""

from dataclasses import dataclass

from fabric.engine.health.config import Check

MAX_LOG = 5
MAX_OUTPUT = 4096          # bytes of a check's output kept; "..." marks the cut


@dataclass(frozen=True)
class Result:
    start: str              # Docker's timestamps
    end: str
    exit_code: int          # -1: the check could not run, or outlasted its timeout
    output: str
    started: float          # `start` as a Unix time, for the start period

    def entry(self) -> dict:
        return {"Start": self.start, "End": self.end, "ExitCode": self.exit_code,
                "Output": self.output}


def output_text(data: bytes, cut: bool) -> str:
    return data.decode(errors="replace") + ("..." if cut else "")


def begin(state: dict) -> None:
    """A (re)start: starting again, streak cleared, the log of earlier runs kept."""
    log = (state.get("Health") or {}).get("Log") or []
    state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": log}


def record(health: dict, result: Result, started_at: float, check: Check) -> str | None:
    """Apply one result; the new status when it changed (Docker's health_status event)."""
    before = health["Status"]
    health["Log"] = (health.get("Log") or [])[-(MAX_LOG - 1):] + [result.entry()]
    if result.exit_code == 0:
        health.update(Status="healthy", FailingStreak=0)
    elif before != "starting" or result.started - started_at >= check.start_period:
        health["FailingStreak"] = health.get("FailingStreak", 0) + 1
        if health["FailingStreak"] >= check.retries:
            health["Status"] = "unhealthy"
    return health["Status"] if health["Status"] != before else None


def stopped(state: dict) -> None:
    """The checker stopped (the container stops, exits or pauses): Docker then reports
    unhealthy, without an event."""
    if state.get("Health"):
        state["Health"]["Status"] = "unhealthy"
