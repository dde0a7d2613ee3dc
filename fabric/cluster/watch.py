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

Latency is the backend's wake-up (inotify for the embedded store: about 1 ms; etcd
pushes each change down the watch stream) plus the plans themselves; a peer added or
removed is routed or unrouted well within a second.

A host that loses its store (etcd stopped, or out of reach) keeps what is wired: the
watch only says so, once, in the daemon's log, and tries again with a growing pause.
The daemon starts the same way when the store is away from the beginning. When the
store answers again the watch registers the host again, gives back in the store what
the host let go of meanwhile (catchup.py), and resumes from the last revision it
acted on, so every change made elsewhere meanwhile reaches it as history; when etcd
no longer has that history (Compacted), or the store is a new one (its revision went
back), it reads everything again instead.
"""

import logging
import threading
from collections.abc import Callable

from fabric.cluster.catchup import settle
from fabric.cluster.kv import Compacted
from fabric.cluster.store import Cluster, endpoints_touched, networks_touched
from fabric.errors import FabricError, Unavailable
from fabric.network.peering import Peering
from fabric.network.remotes import Remotes

log = logging.getLogger(__name__)

WAIT = 0.5          # longest single wait for changes: how soon a stop is noticed
RETRY = (0.2, 2.0)  # pause after a failed read: first, longest


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
        self.synced = False         # wired as the store said at `revision`
        self.away: str | None = None    # why the store did not answer, while it does not
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> dict:
        """How far this host has acted on the store (GET /fabric/cluster): a caller that
        read the store's revision R knows the host is wired, and its containers' names
        written, as of R once Revision >= R and Synced."""
        return {"Store": self.cluster.url, "Revision": self.revision, "Synced": self.synced,
                "Away": self.away}

    def start(self) -> None:
        """Start following the store. Nothing is asked of it here: a daemon whose
        store is away starts all the same, and says so in its log."""
        self._thread = threading.Thread(target=self._run, name="cluster-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pause = RETRY[0]
        while not self._stop.is_set():
            try:
                if not self.synced or self.away:
                    self._catch_up()
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
                self.synced = False     # fell behind the history kept: read it all again
            except Unavailable as e:
                if self.away is None:
                    log.warning("%s; containers stay connected, changes to global networks "
                                "wait for it", e.message)
                self.away = e.message
                self._stop.wait(pause)
                pause = min(pause * 2, RETRY[1])
            except Exception as e:  # noqa: BLE001 - the watch must outlive a bad moment
                log.warning("cluster watch: %s; again in %.1f s", e, pause)
                self.synced = False
                self._stop.wait(pause)
                pause = min(pause * 2, RETRY[1])

    def _catch_up(self) -> None:
        """Register, put right what changed here while the store was away, and wire
        to its members: from the last revision acted on when it has the history."""
        rev = self.cluster.revision()
        self.cluster.register(self.host, self.underlay)
        settle(self.cluster, self.peering.svc)
        if rev < self.revision:
            self.synced = False     # a store made anew: its revisions started again
        if not self.synced:
            # read the revision first: whatever changes while we sync is after it
            self.revision = rev
            self._sync(None)
            self._sync_endpoints(None, full=True)
            self.synced = True
        if self.away is not None:
            log.warning("cluster store %s answers again; catching up from revision %d",
                        self.cluster.url, self.revision)
            self.away = None

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
