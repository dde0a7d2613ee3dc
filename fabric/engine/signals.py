"""Signal names as Docker reads them (`--stop-signal`, `kill -s`): a number, or a name
with or without SIG, in any case, including RTMIN+N and RTMAX-N."""

import signal

from fabric.errors import InvalidArgument

_RT_SPAN = int(signal.SIGRTMAX) - int(signal.SIGRTMIN)


def signal_number(sig: str | int) -> int:
    """The signal's number; Docker's "Invalid signal" for anything runc could not send."""
    raw = str(sig).strip()
    if raw.isdigit():
        num = int(raw)
        if 0 < num <= int(signal.SIGRTMAX):
            return num
        raise InvalidArgument(f"Invalid signal: {sig}")
    name = raw.upper()
    name = name[3:] if name.startswith("SIG") else name
    for base, sign in (("RTMIN+", 1), ("RTMAX-", -1)):
        offset = name[len(base):]
        if name.startswith(base) and offset.isdigit() and 0 < int(offset) <= _RT_SPAN:
            start = signal.SIGRTMIN if sign > 0 else signal.SIGRTMAX
            return int(start) + sign * int(offset)
    member = signal.Signals.__members__.get("SIG" + name)
    if member is None or not name.isalnum():
        raise InvalidArgument(f"Invalid signal: {sig}")
    return int(member)
