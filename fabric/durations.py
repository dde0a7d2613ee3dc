"""Go's durations, as Docker reads and prints them: `30s`, `1m30s`, `500ms`, `1.5h`.

Docker's flags (`--health-interval`), Dockerfile options (`HEALTHCHECK --interval`) and
messages (`Health check exceeded timeout (1s)`) use Go's time.ParseDuration and
Duration.String; the API carries the same durations as whole nanoseconds. Standard
library only: the CLI imports this.
"""

import re

_PART = re.compile(r"(\d*(?:\.\d*)?)([a-zµμ]+)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9,
            "m": 60 * 10**9, "h": 3600 * 10**9}


def parse(text: str) -> int:
    """Nanoseconds; ValueError with Go's message (`time: invalid duration "x"`)."""
    s = text
    sign = -1 if s.startswith("-") else 1
    s = s[1:] if s[:1] in "+-" else s
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    pos, total = 0, 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            if s[pos:].replace(".", "").isdigit():
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        number, unit = m.groups()
        if number in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        if unit not in _UNIT_NS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        whole, _, frac = number.partition(".")
        size = _UNIT_NS[unit]
        total += int(whole or 0) * size
        if frac:
            total += int(frac) * size // 10 ** len(frac)
        pos = m.end()
    return sign * total


def text(ns: int) -> str:
    """Go's Duration.String(): 0s, 1.5s, 1m30s, 500ms."""
    if ns < 0:
        return "-" + text(-ns)
    if ns == 0:
        return "0s"
    if ns < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if ns >= size:
                return _decimal(ns, size) + unit
    h, rest = divmod(ns, 3600 * 10**9)
    m, rest = divmod(rest, 60 * 10**9)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + _decimal(rest, 10**9) + "s"


def _decimal(ns: int, size: int) -> str:
    """ns in units of `size`, with as many decimals as it takes and no more."""
    whole, frac = divmod(ns, size)
    digits = f"{frac:0{len(str(size)) - 1}d}".rstrip("0") if size > 1 else ""
    return f"{whole}.{digits}" if digits else str(whole)
