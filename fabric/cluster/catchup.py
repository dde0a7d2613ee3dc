"""Putting right in the cluster store what a host changed while the store was away.

A host that loses its store keeps working on its own: a container on a global network
may be removed (its address lease stays in the store: SharedAllocator.release logs
and goes on), a global network may be removed (its slice stays: SharedNetworks.remove
does the same). When the store answers again, the daemon's watch calls `settle`: the
host's own store is the truth about what the host holds, so a slice of a network the
host no longer has is given back, and so is a lease for a container the host no
longer has on that network. Everything runs under the network core's one lock, the
lock under which every slice is taken and every address leased, so nothing taken a
moment ago is mistaken for something left behind.
"""

import logging

from fabric.cluster.store import Cluster
from fabric.network.service import NetworkService

log = logging.getLogger(__name__)


def settle(cluster: Cluster, svc: NetworkService) -> list[str]:
    """Give back what this host holds in the store and no longer has; what was given
    back, one line each (also logged)."""
    me = svc.host.name
    done: list[str] = []
    with svc.lock:
        have = {d["id"]: d for d in svc.list_networks() if d.get("scope") == "global"}
        slices, leases = cluster.held_by(me)
        for nid in slices:
            if nid not in have:
                cluster.leave(nid, me)
                done.append(f"network {nid[:12]}: left (removed here while the store "
                            "was away)")
        for nid, address, holder in leases:
            if nid not in have or not holder.get("container"):
                continue    # a network left above took its leases along; not an endpoint's
            used = {ep["address"].split("/")[0] for ep in
                    svc.records.endpoints(network_id=nid) if ep.get("address")}
            if address not in used:
                cluster.release(nid, address)
                done.append(f"network {have[nid]['name']}: address {address} given back "
                            "(its container went while the store was away)")
    for line in done:
        log.warning("cluster store: %s", line)
    return done
