"""Endpoints made to agree with containers and with the kernel, when a daemon starts.

Which networks a container is on has one source of truth: its document (Docker's
NetworkSettings.Networks), which the engine saves last when a container starts or is
connected, and first when it is disconnected. An endpoint row is the lease of a
running container's address on one network, with what the core needs of it (names,
links, ports); the kernel's veths follow the rows. So a daemon killed at any moment
leaves rows and interfaces that the documents either back or do not, and this module,
run before the daemon serves, settles each case as the user's last completed request
says (the container's view, as `inspect` shows it, wins):

- a row of a container that is gone, or does not run: the container's network
  state from a start that did not complete, or a stop that did not finish: it goes,
  with its interface;
- a row of a running container whose document does not name the network: a connect
  killed before the document was saved, or a disconnect killed after: it goes, with
  its interface (the container is not connected, as `inspect` says);
- an interface tagged for an endpoint of one of this host's networks with no row:
  the rest of a start, connect or disconnect killed half-way: it goes. Interfaces of
  networks this host does not know are left alone (another root may share the
  namespace). An untagged veth bearing the very name a row records was being made
  when the daemon died (the tag is set in a second request): it goes too, first;
- a row the document backs whose interface is gone (deleted by hand, or the wiring
  of a connect was never finished before the document was saved, which the engine
  does not do): the driver's join plan runs again, idempotently;
- a network the document of a running container names with no row (a stop killed
  after the endpoints went, before the document was saved): the container joins it
  again, at the address `inspect` showed when it is free, if its namespace is still
  there. If its process is in fact gone, the container reconcile that follows tears
  it down as for any exit.

An address is freed only with its row, so it is never handed out while a record
still claims it; the rows decide, and each document then shows what its rows hold.
"""

import logging
import os
from collections.abc import Collection

from fabric.errors import FabricError
from fabric.network import names
from fabric.network.endpoints import Endpoints, next_slot
from fabric.network.model import TAG_PREFIX
from fabric.network.requests import EndpointRequest, Membership, Reconciled
from fabric.network.service import NetworkService
from fabric.plan import DeleteLink, Plan

log = logging.getLogger(__name__)


class EndpointReconcile:
    def __init__(self, svc: NetworkService, endpoints: Endpoints):
        self.svc = svc
        self.endpoints = endpoints

    def run(self, members: Collection[Membership]) -> Reconciled:
        """Settle every endpoint row and endpoint interface against `members` (every
        container there is); the caller holds the service's lock."""
        svc = self.svc
        by_id = {m.member.container_id: m for m in members}
        backed = {(m.member.container_id, r.network) for m in members if m.running
                  for r in m.networks}
        # container id -> its name and the networks where what its peers see changed
        changed: dict[str, tuple[str, set[str]]] = {}
        tagged = self._remove_half_made()
        for ep in svc.records.endpoints():
            if (ep["container_id"], ep["network_id"]) not in backed:
                m = by_id.get(ep["container_id"])
                why = "the container is gone" if m is None else "it does not run" \
                    if not m.running else "its document does not name the network"
                _repaired(f"endpoint of {ep['container_name']} on network "
                          f"{ep['network_id'][:12]} removed: {why}")
                self.endpoints.leave(ep, m.netns if m else None, quiet=True)
                changed.setdefault(ep["container_id"], (ep["container_name"], set()))[1].add(
                    ep["network_id"])
        rows: dict[str, dict[str, dict]] = {}
        for ep in svc.records.endpoints():
            rows.setdefault(ep["container_id"], {})[ep["network_id"]] = ep
        present = self._sweep(tagged, {_tag(ep) for ep in svc.records.endpoints()})
        for m in members:
            if m.running and m.netns:
                mine = rows.setdefault(m.member.container_id, {})
                if self._settle(m, mine, present):
                    changed.setdefault(m.member.container_id, (m.member.name, set()))[1] \
                        .update(r.network for r in m.networks)
        affected = set(changed)
        for cid, (name, nets) in changed.items():
            affected |= names.affected(svc.records, cid, name, nets)
        return Reconciled(rows, frozenset(affected))

    def _remove_half_made(self) -> dict[str, str]:
        """Remove the veths a join was making when the daemon died: a link is tagged in
        a request of its own after it is made, so one killed in between is an untagged
        veth with exactly the name its endpoint row records (derived from the
        endpoint's id; model.host_ifname). Returns the tagged links, name -> tag."""
        from fabric.net import links, rtnl
        svc = self.svc
        recorded = {ep["host_ifname"] for ep in svc.records.endpoints()}
        with rtnl.rtnl(svc.host.netns) as ipr:
            found = links.list_links(ipr)
        for link in found:
            if link.name in recorded and link.kind == "veth" and not link.alias:
                self._delete(link.name, None, "made half-way when the daemon died")
        return {link.name: link.alias for link in found if link.tagged and link.alias}

    def _sweep(self, tagged: dict[str, str], keep: set[str]) -> set[str]:
        """Remove interfaces tagged for endpoints of this host's networks that have no
        row (`keep`: the tags of those that do); the tags still present."""
        ours = {n["id"][:12] for n in self.svc.list_networks()}
        present = set()
        for name, tag in tagged.items():
            parts = tag.split(":")
            if len(parts) != 3 or parts[1] not in ours or tag in keep:
                present.add(tag)
            else:
                self._delete(name, tag, "its endpoint is gone")
        return present

    def _delete(self, name: str, tag: str | None, why: str) -> None:
        _repaired(f"interface {name} removed: {why}")
        try:
            self.svc.run(Plan((DeleteLink(name, tag=tag),), best_effort=True,
                              title=f"remove {name}: {why}"))
        except FabricError as e:
            log.warning("interface %s: %s", name, e)

    def _settle(self, m: Membership, mine: dict[str, dict], present: set[str]) -> bool:
        """Wire the backed rows whose interface is gone, join the networks that have no
        row; True when anything changed."""
        svc = self.svc
        netns = m.netns or ""
        changed = False
        for req in m.networks:
            net = svc.find_network(req.network)
            if net is None or not svc.has_driver(net):
                continue
            ep = mine.get(req.network)
            try:
                if ep is None:
                    if not os.path.exists(netns):
                        continue
                    _repaired(f"{m.member.name} joins network {net['name']} again: its "
                              "document names it")
                    mine[req.network] = self._join(m, net, req, mine)
                    changed = True
                elif _tag(ep) not in present:
                    _repaired(f"{m.member.name} on network {net['name']} wired again: its "
                              "interface was gone")
                    self.endpoints.wire(net, ep, netns)
                    changed = True
                elif (ep["container_name"], ep["hostname"]) != (m.member.name,
                                                                m.member.hostname):
                    # a rename killed between the document and the rows
                    ep.update(container_name=m.member.name, hostname=m.member.hostname)
                    svc.records.update_endpoint(ep)
                    changed = True
            except FabricError as e:
                log.warning("container %s on network %s: %s", m.member.name, net["name"], e)
        return changed

    def _join(self, m: Membership, net: dict, req: EndpointRequest,
              mine: dict[str, dict]) -> dict:
        ifname, may_route = next_slot(mine.values())
        return self.endpoints.join(m.member, net, req, m.netns or "", ifname, may_route,
                                   m.ports, prefer=m.shown.get(net["id"]) or None)


def _repaired(what: str) -> None:
    # a warning: each one is the trace of a daemon killed in the middle of a change
    log.warning("reconcile: %s", what)


def _tag(ep: dict) -> str:
    """The tag of the kernel objects made for an endpoint (model.Endpoint.tag)."""
    return f"{TAG_PREFIX}{ep['network_id'][:12]}:{ep['id'][:12]}"
