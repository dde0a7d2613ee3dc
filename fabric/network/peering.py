"""Wiring a host to the other members of the networks it shares with them.

Each member host of a global network keeps, in its own row for the network, the peers
it is wired to now (the programmed state: `shared.peers`). `sync` compares them with
the members the cluster store lists, runs its driver's `plan_peer_leave` for those
gone or moved and `plan_peer_join` for every member (idempotent, so it also puts back
what a flush or a reboot took), records the new peers and re-renders the firewall
(the routing driver lets the members' addresses in). The cluster watch calls it when
members change (fabric/cluster/watch.py), and at daemon start, so a daemon that was
down catches up from the store. The plans run through the service's applier like any
other: rollback on failure, and in a user's request `--explain` shows them.
"""

import dataclasses
import logging
from collections.abc import Collection

from fabric.errors import Conflict, FabricError, NotFound
from fabric.network.driver import SpansHosts
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.model import Peer
from fabric.network.service import NetworkService
from fabric.plan import Plan

log = logging.getLogger(__name__)   # the daemon shows it in its log (INFO: each command)

# a host's own, never in the record
LOCAL_KEYS = ("shared", "uplink", "gateway_owned", "underlay")


class Peering:
    def __init__(self, svc: NetworkService, firewall: FirewallRendering):
        self.svc = svc
        self.firewall = firewall

    def sync(self, ids: Collection[str] | None = None, render: bool = True) -> bool:
        """Wire this host to the current members of its shared networks (`ids`: only
        these), as the cluster store says now; whether any peer changed."""
        svc = self.svc
        if svc.host.cluster is None:
            return False
        changed = False
        with svc.lock:
            for doc in svc.global_networks(ids):
                try:
                    changed = self._sync_one(doc) or changed
                except FabricError as e:
                    log.warning("network %s: peers: %s", doc["name"], e.message)
            if changed and render:
                self.firewall.render()
        return changed

    def _sync_one(self, doc: dict) -> bool:
        svc = self.svc
        cluster = svc.cluster()
        me = svc.host.name
        members = cluster.members(doc["id"])
        if not any(m.host == me for m in members):
            self._rejoin(doc)
        want = sorted((m for m in members if m.host != me and m.underlay),
                      key=lambda p: p.host)
        shared = doc["shared"]
        have = [Peer(**p) for p in shared.get("peers", ())]
        drv = svc.driver(doc["driver"])
        if isinstance(drv, SpansHosts):
            if svc.explaining:      # a user's request: the commands go to the user
                self._wire(drv, doc, have, want)
            else:                   # the watch: the commands go to the daemon's log
                with svc.mode("explain") as lines:
                    self._wire(drv, doc, have, want)
                for line in lines:
                    log.info("network %s: %s", doc["name"], line)
        if want == have:
            return False
        shared["peers"] = [dataclasses.asdict(p) for p in want]
        svc.records.update_network(doc)
        return True

    def _wire(self, drv: SpansHosts, doc: dict, have: list[Peer], want: list[Peer]) -> None:
        model = self.svc.model(doc)
        for p in have:
            if p not in want:
                self._run(drv.plan_peer_leave(model, p), doc, p, "left")
        for p in want:
            # every member, not only new ones: the plans are idempotent, and this puts
            # back what a flush or a reboot took away
            self._run(drv.plan_peer_join(model, p), doc, p, "member")

    def _run(self, plan: Plan, doc: dict, peer: Peer, what: str) -> None:
        try:
            self.svc.run(plan)
        except FabricError as e:
            # one peer's trouble must not keep the others unwired; the next sync retries
            log.warning("network %s: peer %s (%s): %s", doc["name"], peer.host, what,
                        e.message)

    def _rejoin(self, doc: dict) -> None:
        """This host is a member by its own records but not by the store's (a store
        made anew, or the host taken out by hand): take its slice again, and the
        record too when the store lost it."""
        svc = self.svc
        cluster = svc.cluster()
        shared = doc["shared"]
        whole = shared.get("ipam") or []
        if cluster.networks.find_network(doc["id"]) is None:
            record = {k: v for k, v in doc.items() if k not in LOCAL_KEYS}
            record["ipam"] = whole
            try:
                cluster.networks.insert_network(record)
            except Conflict as e:
                raise Conflict(f"cannot record it in the cluster store again: {e.message}") \
                    from e
        try:
            cluster.join(doc["id"], svc.host.name, subnet=whole[0]["subnet"] if whole else "",
                         host_prefix=doc.get("host_prefix"), pinned=shared.get("slice") or None)
        except NotFound as e:
            raise Conflict(f"cannot take its slice again: {e.message}") from e
        log.info("network %s: joined the cluster store again with slice %s", doc["name"],
                 shared.get("slice") or "-")
