"""Netlink sockets bound to a namespace, and bounded retries.

`IPRoute(netns=...)` makes its socket inside the namespace from a short-lived child
process, so no thread of ours ever calls setns(). `flags=0` stops pyroute2 from
creating a namespace that does not exist (its default is O_CREAT, which would quietly
turn a typo into a new empty namespace).
"""

import errno
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError

from fabric.net import netns

T = TypeVar("T")

# EBUSY: a device is being changed by someone else (e.g. udev renaming a fresh veth);
# EAGAIN/EINTR: an interrupted request. All three succeed when simply tried again.
RETRY_ERRNOS = frozenset({errno.EBUSY, errno.EAGAIN, errno.EINTR})
ATTEMPTS = 5


def retry(fn: Callable[..., T], *args, attempts: int = ATTEMPTS, **kwargs) -> T:
    """Call fn, retrying a few times on interrupted dumps and transient errnos."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except NetlinkDumpInterrupted:
            pass
        except NetlinkError as e:
            if e.code not in RETRY_ERRNOS:
                raise
        if attempt == attempts - 1:
            break
        time.sleep(delay)
        delay *= 2
    return fn(*args, **kwargs)  # last try: let its error propagate


def open_ns(ns: str | None = None) -> IPRoute:
    """An rtnetlink socket in `ns` (None: the caller's own namespace)."""
    if ns is None:
        return IPRoute()
    return IPRoute(netns=netns.require(ns), flags=0)


@contextmanager
def rtnl(ns: str | None = None) -> Iterator[IPRoute]:
    ipr = open_ns(ns)
    try:
        yield ipr
    finally:
        ipr.close()


class Session:
    """Sockets opened on first use, one per namespace, closed together.

    Opening a socket inside another namespace forks a helper (about 10 ms), so a plan
    touching one namespace ten times should pay for it once. A session belongs to one
    thread: pyroute2 sockets are not shared across threads.
    """

    def __init__(self) -> None:
        self._socks: dict[str | None, IPRoute] = {}

    def __call__(self, ns: str | None = None) -> IPRoute:
        key = netns.path(ns) if ns is not None else None
        ipr = self._socks.get(key)
        if ipr is None:
            ipr = self._socks[key] = open_ns(ns)
        return ipr

    def forget(self, ns: str | None) -> None:
        """Close the socket of a namespace about to disappear."""
        key = netns.path(ns) if ns is not None else None
        ipr = self._socks.pop(key, None)
        if ipr is not None:
            ipr.close()

    def close(self) -> None:
        socks, self._socks = self._socks, {}
        for ipr in socks.values():
            ipr.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
