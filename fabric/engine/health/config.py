"""A container's Healthcheck (Docker's `Config.Healthcheck`): checked at create as
Docker's daemon checks it, merged with the image's HEALTHCHECK as Docker merges them,
and read into what a checker needs. Durations are nanoseconds, as in the API."""

from dataclasses import dataclass

from fabric.errors import InvalidArgument

# Docker's defaults (daemon/health.go) and the API's smallest duration.
INTERVAL = TIMEOUT = 30 * 10**9
START_PERIOD = 0
RETRIES = 3
MIN_DURATION = 10**6
SHELL = ["/bin/sh", "-c"]
KINDS = ("NONE", "CMD", "CMD-SHELL")
DURATIONS = ("Interval", "Timeout", "StartPeriod")


def validate(hc: object) -> dict | None:
    """Docker's checks of a create request's Healthcheck; one line for each mistake."""
    if hc is None:
        return None
    if not isinstance(hc, dict):
        raise InvalidArgument("Healthcheck must be an object (Test, Interval, Timeout, "
                              "StartPeriod, Retries)")
    test = hc.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidArgument("Healthcheck Test must be a list of strings, e.g. "
                              '["CMD-SHELL", "wget -q -O- http://localhost/"]')
    if test and test[0] not in KINDS:
        raise InvalidArgument(f"unknown Healthcheck type {test[0]!r}: use CMD, CMD-SHELL "
                              "or NONE")
    if test and test[0] != "NONE" and len(test) < 2:
        raise InvalidArgument(f"Healthcheck {test[0]} needs a command after it")
    for key in DURATIONS:
        value = hc.get(key) or 0
        if not isinstance(value, int):
            raise InvalidArgument(f"{key} in Healthcheck must be a duration in nanoseconds")
        if value != 0 and value < MIN_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    retries = hc.get("Retries") or 0
    if not isinstance(retries, int):
        raise InvalidArgument("Retries in Healthcheck must be a whole number")
    if retries < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    return dict(hc)


def merge(user: dict | None, image: dict | None) -> dict | None:
    """Docker's merge: the image's check unless the user gave one, and what the user's
    leaves out (no Test, a zero duration or count) taken from the image's."""
    if user is None:
        return dict(image) if image else None
    out = dict(user)
    for key in ("Test", *DURATIONS, "Retries"):
        if image and not out.get(key) and image.get(key):
            out[key] = image[key]
    return out


@dataclass(frozen=True)
class Check:
    """What a checker runs and when (seconds)."""
    argv: list[str]
    interval: float
    timeout: float
    start_period: float
    retries: int


def check_of(config: dict) -> Check | None:
    """The check a container's (merged) config asks for; None for none or NONE."""
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    argv = list(test[1:]) if test[0] == "CMD" else \
        list(config.get("Shell") or SHELL) + list(test[1:])
    return Check(argv=argv, interval=(hc.get("Interval") or INTERVAL) / 1e9,
                 timeout=(hc.get("Timeout") or TIMEOUT) / 1e9,
                 start_period=(hc.get("StartPeriod") or START_PERIOD) / 1e9,
                 retries=hc.get("Retries") or RETRIES)
