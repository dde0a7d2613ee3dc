"""Each host made to match the endpoint registry: other hosts' containers programmed in.

For every global network this host is a member of, `sync` reads the registry
(registry.py: the network's leases, with the MAC and tunnel end behind each address)
and the connections the members were told to keep or forget, and:

- puts this host's own entries right: its endpoints published as its records say
  (after a store made anew, or an underlay that moved), entries of endpoints it no
  longer has withdrawn (left by a daemon or a host killed half way). The store is the
  truth for other hosts' endpoints, this host's records for its own;
- for a network whose driver tunnels (driver.Tunnels), runs `plan_remote_leave` for
  the endpoints gone or changed and `plan_remote_join` for those new (at a full sync,
  for every one: the plans are idempotent and put back what a flush or a reboot took),
  with the firewall told first, so a new container's first frames through the tunnel
  are let in, and told again after, so a gone one's are not;
- records what is programmed in its own row of the network (`shared.remote`: each
  entry, the store key and revision it came from, since when), which `mesh status`
  shows and /etc/hosts lists (names.py): names resolve across hosts.

A host told to forget another (`fabric mesh forget`) drops that host's endpoints; the
forgotten host drops everyone's. The cluster watch calls `sync` with the networks
whose registry or connections changed, and with None (all) when it starts or catches
up (fabric/cluster/watch.py); a host joining a network syncs it at once (shared.py).
"""

import logging
import time
from collections.abc import Collection

from fabric.errors import FabricError
from fabric.network import registry
from fabric.network.context import Registered
from fabric.network.driver import Tunnels
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.model import RemoteEndpoint
from fabric.network.service import NetworkService
from fabric.plan import Plan

log = logging.getLogger(__name__)   # the daemon shows it in its log (INFO: each command)


class Remotes:
    def __init__(self, svc: NetworkService, firewall: FirewallRendering):
        self.svc = svc
        self.firewall = firewall

    def sync(self, ids: Collection[str] | None = None, full: bool = False
             ) -> frozenset[str]:
        """Make this host match the registry for its global networks (`ids`: only
        these); with `full`, every remote endpoint is programmed again. The local
        containers whose /etc/hosts changed."""
        svc = self.svc
        if svc.host.cluster is None:
            return frozenset()
        affected: set[str] = set()
        with svc.lock:
            for doc in svc.global_networks(ids):
                try:
                    if self._sync_one(doc, full):
                        affected |= {e["container_id"] for e in
                                     svc.records.endpoints(network_id=doc["id"])}
                except FabricError as e:
                    log.warning("network %s: endpoints: %s", doc["name"], e.message)
        return frozenset(affected)

    def _sync_one(self, doc: dict, full: bool) -> bool:
        """Whether the names the network's containers see changed."""
        svc = self.svc
        cluster = svc.cluster()
        entries = self._own(doc, cluster.endpoints(doc["id"]))
        want = self._wanted(doc, entries)
        have = {r["id"]: r for r in registry.programmed_records(doc)}
        gone = [r for i, r in have.items()
                if i not in want or registry.as_remote(r) != want[i][0]]
        new = [(rem, reg) for i, (rem, reg) in want.items()
               if i not in have or registry.as_remote(have[i]) != rem]
        now = time.time()
        final = [registry.programmed_record(rem, reg.key, reg.revision,
                                            now if (rem, reg) in new else have[i]["since"])
                 for i, (rem, reg) in want.items()]
        drv = svc.driver(doc["driver"])
        if isinstance(drv, Tunnels) and (gone or new or full):
            # recorded first, gone and new alike: a daemon killed half way finds every
            # entry it may have programmed; the firewall lets the new ones in first
            added = {rem.id for rem, _ in new}
            self._record(doc, list(have.values()) + [r for r in final if r["id"] in added])
            self.firewall.render()
            failed = self._program(drv, doc, gone, [rem for rem, _ in want.values()] if full
                                   else [rem for rem, _ in new])
            # left out of the record, so the network's next sync tries them again
            final = [r for r in final if r["id"] not in failed]
        revisions = {r["id"]: r["revision"] for r in final}
        if full or gone or new or revisions != {i: r["revision"] for i, r in have.items()}:
            self._record(doc, final)
            if isinstance(drv, Tunnels):
                self.firewall.render()
        return bool(gone or new)

    def _wanted(self, doc: dict, entries: list[Registered]
                ) -> dict[str, tuple[RemoteEndpoint, Registered]]:
        """Other hosts' endpoints this host is to reach: none while it is forgotten,
        and none of a host forgotten."""
        me = self.svc.host.name
        conns = self.svc.cluster().connections(doc["id"])
        forgotten = {h for h, c in conns.items() if not c.get("wanted", True)}
        if me in forgotten:
            return {}
        out = {}
        for reg in entries:
            rem = registry.remote(reg.value)
            if rem is not None and rem.host != me and rem.host not in forgotten:
                out[rem.id] = (rem, reg)
        return out

    def _own(self, doc: dict, entries: list[Registered]) -> list[Registered]:
        """This host's own entries made to match its endpoint records; the entries as
        they are then."""
        svc = self.svc
        cluster = svc.cluster()
        me = svc.host.name
        local = {e["id"]: e for e in svc.records.endpoints(network_id=doc["id"])
                 if e.get("address")}
        out, changed = [], False
        for reg in entries:
            v = reg.value
            if v.get("host") == me and v.get("endpoint") not in local:
                cluster.release(doc["id"], reg.key.rsplit("/", 1)[-1])
                log.info("network %s: withdrew %s, an endpoint this host no longer has",
                         doc["name"], reg.key)
                changed = True
            else:
                out.append(reg)
        published = {r.value.get("endpoint"): r for r in out if r.value.get("host") == me}
        vtep = svc.vtep(doc)
        for ep in local.values():
            want = registry.entry(me, ep, *vtep)
            mine = published.get(ep["id"])
            if mine is not None and registry.same(mine.value, want):
                continue
            ip = ep["address"].split("/")[0]
            if cluster.publish(doc["id"], ip, want):
                log.info("network %s: published %s (%s)", doc["name"], ip, want["name"])
                changed = True
            else:
                log.warning("network %s: address %s of container %s is held by another "
                            "host in the cluster store", doc["name"], ip, want["name"])
        return cluster.endpoints(doc["id"]) if changed else out

    def _program(self, drv: Tunnels, doc: dict, gone: list[dict],
                 join: list[RemoteEndpoint]) -> set[str]:
        """Run the plans; the endpoints whose join failed."""
        svc = self.svc
        if svc.explaining:      # a user's request: the commands go to the user
            return self._plans(drv, doc, gone, join)
        with svc.mode("explain") as lines:   # the watch: they go to the daemon's log
            failed = self._plans(drv, doc, gone, join)
        for line in lines:
            log.info("network %s: %s", doc["name"], line)
        return failed

    def _plans(self, drv: Tunnels, doc: dict, gone: list[dict],
               join: list[RemoteEndpoint]) -> set[str]:
        model = self.svc.model(doc)
        for rec in gone:
            self._run(drv.plan_remote_leave(model, registry.as_remote(rec)), doc, rec["name"])
        return {rem.id for rem in join
                if not self._run(drv.plan_remote_join(model, rem), doc, rem.name)}

    def _run(self, plan: Plan, doc: dict, who: str) -> bool:
        try:
            self.svc.run(plan)
        except FabricError as e:
            # one endpoint's trouble must not keep the others out
            log.warning("network %s: endpoint %s: %s", doc["name"], who, e.message)
            return False
        return True

    def _record(self, doc: dict, programmed: list[dict]) -> None:
        doc.setdefault("shared", {})["remote"] = programmed
        self.svc.records.update_network(doc)
