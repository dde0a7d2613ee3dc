"""`healthcheck:` and `wait:` of a lab container, resolved: compose's spelling
(`test: curl -f http://localhost/`, `interval: 5s`, `disable: true`) into Docker's
Config.Healthcheck, as `docker-compose` sends it."""

from typing import Any

from fabric import durations
from fabric.lab import model
from fabric.lab.source import Path, Source

KINDS = ("NONE", "CMD", "CMD-SHELL")


def resolve(src: Source, raw: dict | None, where: Path) -> model.Healthcheck | None:
    if raw is None:
        return None
    if raw.get("disable"):
        return model.Healthcheck(("NONE",))
    test = raw.get("test")
    if isinstance(test, str):
        words: tuple[str, ...] = ("CMD-SHELL", test)
    elif test:
        words = tuple(test)
        if words[0] not in KINDS:
            raise src.error(where + ("test",), f"a test list starts with CMD, CMD-SHELL or "
                            f"NONE, not '{words[0]}' (or give the command as one string)")
    else:
        words = ()        # the image's test, with these timings
    spans = {key: _duration(src, raw.get(key), where + (key,))
             for key in ("interval", "timeout", "start_period")}
    return model.Healthcheck(words, spans["interval"], spans["timeout"],
                             spans["start_period"], int(raw.get("retries") or 0))


def wait(src: Source, raw: dict, hc: model.Healthcheck | None, where: Path) -> str | None:
    value = raw.get("wait")
    if value == "healthy" and hc is not None and hc.test[:1] == ("NONE",):
        raise src.error(where + ("wait",), "waits until healthy, but its health check is "
                        "disabled")
    return value


def body(hc: model.Healthcheck) -> dict:
    """Config.Healthcheck as the API takes it."""
    return {"Test": list(hc.test), "Interval": hc.interval, "Timeout": hc.timeout,
            "StartPeriod": hc.start_period, "Retries": hc.retries}


def _duration(src: Source, value: Any, where: Path) -> int:
    if value is None:
        return 0
    try:
        ns = durations.parse(str(value))
    except ValueError as e:
        raise src.error(where, f"{e} (e.g. 500ms, 5s, 1m30s)") from None
    if 0 < ns < 10**6 or ns < 0:
        raise src.error(where, "must be at least 1ms")
    return ns
