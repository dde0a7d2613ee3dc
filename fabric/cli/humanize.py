"""Sizes and ages as Docker's CLI prints them."""

import time


def human_size(n: float, precision: int = 3) -> str:
    """Docker's units.HumanSizeWithPrecision: decimal units, `precision` significant
    digits (image sizes and `stats` I/O use 3, reclaimed space of `volume prune` 4)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.{precision}g}{units[i]}"


def human_ago(ts: float) -> str:
    """`docker ps` CREATED column: '2 minutes ago'."""
    d = max(0, time.time() - ts)
    if d < 1:
        return "Less than a second ago"
    for unit, secs in (("year", 31536000), ("month", 2592000), ("week", 604800),
                       ("day", 86400), ("hour", 3600), ("minute", 60)):
        if d >= secs * (2 if unit != "hour" else 1):
            n = int(d // secs)
            if unit == "hour" and n == 1:
                return "About an hour ago"
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    if d >= 60:
        return "About a minute ago"
    return f"{int(d)} second{'s' if int(d) != 1 else ''} ago"
