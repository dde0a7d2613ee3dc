"""Netlink sockets bound to a namespace, and bounded retries.

`IPRoute(netns=...)` makes its socket inside the namespace from a short-lived child
process, so no thread of ours ever calls setns(). `flags=0` stops pyroute2 from
creating a namespace that does not exist (its default is O_CREAT, which would quietly
turn a typo into a new empty namespace).
"""

import errno
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError

from fabric.net import netns, nsexec

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


NETLINK_ROUTE = 0


def _new_socket() -> int:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE).detach()


def _socket_in(path: str) -> int:
    """The fd of a new rtnetlink socket made inside the namespace at `path`.

    A socket belongs to the namespace it was created in, whichever thread uses it
    later. pyroute2's own `IPRoute(netns=...)` forks a helper for that (about 12 ms
    here); nsexec's short-lived thread costs about 1 ms."""
    return nsexec.run(path, _new_socket)


def open_ns(ns: str | None = None) -> IPRoute:
    """An rtnetlink socket in `ns` (None: the caller's own namespace)."""
    if ns is None:
        return IPRoute()
    # netns.require refuses a missing namespace (never creates one)
    fd = _socket_in(netns.require(ns))
    try:
        return IPRoute(fileno=fd)
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def rtnl(ns: str | None = None) -> Iterator[IPRoute]:
    ipr = open_ns(ns)
    try:
        yield ipr
    finally:
        ipr.close()


class Session:
    """Sockets opened on first use, one per namespace, closed together.

    A plan touching one namespace ten times opens one socket there. With `cache`
    (a plan Context's session) it also looks each link up once per plan (see
    `links.get`): while a plan runs, nothing but the plan itself is expected to
    change the links it names. A session belongs to one
    thread: pyroute2 sockets are not shared across threads.
    """

    def __init__(self, cache: bool = False) -> None:
        self._socks: dict[str | None, IPRoute] = {}
        self._cache = cache

    def reset_cache(self) -> None:
        """Forget every link looked up so far (the Applier calls this around each
        plan, so the cache never outlives one plan)."""
        for ipr in self._socks.values():
            if self._cache:
                ipr.fabric_links = {}
                ipr.fabric_fresh = set()
                ipr.fabric_hairpin = set()

    def __call__(self, ns: str | None = None) -> IPRoute:
        key = netns.path(ns) if ns is not None else None
        ipr = self._socks.get(key)
        if ipr is None:
            ipr = self._socks[key] = open_ns(ns)
            if self._cache:
                # links.get answers from this cache during one plan (the Applier
                # resets it around each), and every change made through links.*
                # keeps it current
                ipr.fabric_links = {}
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
