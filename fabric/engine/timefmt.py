"""Timestamps in Docker's formats."""

from datetime import UTC, datetime

ZERO = "0001-01-01T00:00:00Z"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(s: str) -> float:
    if not s or s.startswith("0001-"):
        return 0.0
    s = s.rstrip("Z")
    frac = 0.0
    if "." in s:
        s, f = s.split(".", 1)
        f = "".join(ch for ch in f if ch.isdigit())
        frac = float("0." + f) if f else 0.0
    return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=UTC).timestamp() + frac


def human_duration(secs: float) -> str:
    """`docker ps` STATUS column durations: 'Up 5 seconds', 'Exited (0) 2 minutes ago'."""
    s = int(secs)
    if s < 1:
        return "Less than a second"
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"
