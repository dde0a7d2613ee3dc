"""The daemon's watch on the cluster store: peers' and endpoints' changes into plans.

One thread per daemon that shares a cluster store. It registers the host as a peer,
wires the host to every member of its shared networks as the store says now (which
is also how a daemon that was down catches up), then follows the store's changes
from the revision it read first, so nothing that happens meanwhile is missed. A
change to a network's members (a slice taken or given back) or to a peer's address
becomes the network core's `sync` of the networks concerned (peering.py), which runs
the drivers' peer plans: the one mechanism that also serves `--explain`, rollback and
reconcile. A change to a network's endpoint registry (its leases) or connections
becomes the network core's remote sync of that network (remotes.py): other hosts'
containers programmed in or out, and the /etc/hosts of this host's containers there
rewritten (`names_changed`, the engine's).

Latency is the backend's wake-up (inotify for the embedded store: about 1 ms) plus
the plans themselves; a peer added or removed is routed or unrouted well within a
second. If the store cannot be read, what is wired stays wired, and the watch tries
again with a growing pause (a host that loses the store keeps its containers
connected, and catches up when it is back).
"""

import logging
import threading
from collections.abc import Callable

from fabric.cluster.kv import Compacted
from fabric.cluster.store import Cluster, endpoints_touched, networks_touched
from fabric.errors import FabricError
from fabric.network.peering import Peering
from fabric.network.remotes import Remotes

log = logging.getLogger(__name__)

WAIT = 0.5          # longest single wait for changes: how soon a stop is noticed
RETRY = (0.2, 5.0)  # pause after a failed read: first, longest


class Watch:
    def __init__(self, cluster: Cluster, peering: Peering, host: str,
                 underlay: str | None, remotes: Remotes | None = None,
                 names_changed: Callable[[frozenset[str]], None] = lambda ids: None):
        self.cluster = cluster
        self.peering = peering
        self.remotes = remotes
        self.names_changed = names_changed
        self.host = host
        self.underlay = underlay
        self.revision = 0           # everything up to here has been acted on
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.cluster.register(self.host, self.underlay)
        self._thread = threading.Thread(target=self._run, name="cluster-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pause = RETRY[0]
        caught_up = False
        while not self._stop.is_set():
            try:
                if not caught_up:
                    # read the revision first: whatever changes while we sync is after it
                    self.revision = self.cluster.revision()
                    self._sync(None)
                    self._sync_endpoints(None, full=True)
                    caught_up = True
                events, rev = self.cluster.changes(self.revision, WAIT)
                if events:
                    touched = networks_touched(events)
                    if touched is None or touched:
                        self._sync(touched)
                    # a member that came back (re)publishes its own endpoints
                    eps = endpoints_touched(events)
                    if touched is None or touched or eps:
                        self._sync_endpoints(None if touched is None else touched | eps)
                self.revision = rev
                pause = RETRY[0]
            except Compacted:
                caught_up = False   # fell behind the history kept: read it all again
            except Exception as e:  # noqa: BLE001 - the watch must outlive a bad moment
                log.warning("cluster watch: %s; again in %.1f s", e, pause)
                caught_up = False
                self._stop.wait(pause)
                pause = min(pause * 2, RETRY[1])

    def _sync(self, networks: set[str] | None) -> None:
        try:
            self.peering.sync(networks)
        except FabricError as e:
            log.warning("cluster watch: %s", e.message)

    def _sync_endpoints(self, networks: set[str] | None, full: bool = False) -> None:
        if self.remotes is None:
            return
        try:
            affected = self.remotes.sync(networks, full)
        except FabricError as e:
            log.warning("cluster watch: %s", e.message)
            return
        if affected:
            # outside the network core's lock: the engine takes containers' locks first
            self.names_changed(affected)
