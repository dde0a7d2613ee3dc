"""`wait: healthy`: `lab up` returns, and `lab test` probes, only once each such
container's health check passes. A container that turns unhealthy, stops, or is not
healthy in time fails it, naming the container and what its last check said.

In time: long enough for Docker's own verdict. A failing check makes a container
unhealthy within its start period plus `retries` rounds of interval and timeout, so
waiting one round more than that (and a few seconds for the first exec) means the
container is stuck in `starting`, not slow.
"""

import time
from collections.abc import Callable

from fabric.engine.health.config import INTERVAL, RETRIES, TIMEOUT
from fabric.errors import FabricError
from fabric.lab import live, model
from fabric.lab.progress import quiet

POLL = 0.2
SLACK = 5.0


class NotHealthy(FabricError):
    """A `wait: healthy` container did not become healthy; the message says why."""


def until_healthy(lab: model.Lab, say: Callable[[str, str], None] = quiet) -> None:
    waiting = [c for c in lab.containers if c.wait == "healthy"]
    deadlines: dict[str, float] = {}
    shown: dict[str, str] = {}
    while waiting:
        for c in list(waiting):
            doc = live.inspect(lab.name, c)
            verdict = _verdict(c, doc)
            if verdict == "healthy":
                if c.name in shown:
                    say(c.name, "healthy")
                waiting.remove(c)
                continue
            assert doc is not None
            deadline = deadlines.setdefault(c.name, time.monotonic() + _budget(doc))
            if shown.get(c.name) != verdict:
                say(c.name, f"waiting until healthy ({verdict})")
                shown[c.name] = verdict
            if verdict == "unhealthy":
                raise NotHealthy(f"container {c.name} on {c.host} is unhealthy"
                                 f"{_last_check(doc)}")
            if time.monotonic() > deadline:
                raise NotHealthy(f"container {c.name} on {c.host} is not healthy after "
                                 f"{_budget(doc):.0f} s (health: {verdict}){_last_check(doc)}")
        if waiting:
            time.sleep(POLL)


def _verdict(c: model.Container, doc: dict | None) -> str:
    """healthy, starting or unhealthy; anything else raises, saying why."""
    if doc is None:
        raise NotHealthy(f"container {c.name} on {c.host} is gone")
    state = doc["State"]
    if state["Status"] != "running":
        raise NotHealthy(f"container {c.name} on {c.host} is {state['Status']} (exit code "
                         f"{state['ExitCode']}) instead of healthy")
    health = state.get("Health")
    if not health:
        raise NotHealthy(f"container {c.name} waits until healthy but has no health check: "
                         "give it `healthcheck:` or an image with a HEALTHCHECK")
    return str(health["Status"])


def _budget(doc: dict) -> float:
    hc = doc["Config"].get("Healthcheck") or {}
    interval = (hc.get("Interval") or INTERVAL) / 1e9
    timeout = (hc.get("Timeout") or TIMEOUT) / 1e9
    rounds = (hc.get("Retries") or RETRIES) + 1
    return (hc.get("StartPeriod") or 0) / 1e9 + rounds * (interval + timeout) + SLACK


def _last_check(doc: dict) -> str:
    log = (doc["State"].get("Health") or {}).get("Log") or []
    if not log:
        return "; no check has run yet"
    last = log[-1]
    said = " ".join(str(last.get("Output") or "").split())
    said = said if len(said) <= 200 else said[:197] + "..."
    return f"; its last check exited {last.get('ExitCode')}: {said or '(no output)'}"
