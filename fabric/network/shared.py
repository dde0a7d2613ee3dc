"""Networks the hosts of a cluster share: joined by each host, wired to the other members.

A global network (the routing driver's; a bridge with an uplink on a host that shares
a cluster store) has one record in the cluster store, made by the first host that
creates it. Every other host that creates a network of that name joins it instead,
so a lab makes a lab-wide network by creating it on each member host, in file order,
with the same request. Each member host then:

- holds a slice of the subnet (slicing.py) leased in the cluster store, in the order
  hosts join, or the one it pins (option `slice`);
- keeps a row of its own for the network: a copy of the record whose `ipam` is what
  this host hands out (its driver's `host_ipam`: the slice behind a gateway of its
  own, or the whole subnet with the slice as address range), and under `shared` the
  whole subnets, its slice and the peers it is wired to now (the programmed state);
- is wired to every other member by its driver's peer plans (peering.py), run when
  members come, go or move;
- on a network its driver tunnels (driver.Tunnels: one address pool, no slices), has
  the network's tunnel id (a VNI, the one asked for or the lowest free, unique in the
  cluster), records its underlay NIC as found (underlay.py), and programs the other
  hosts' endpoints from the cluster's endpoint registry (remotes.py).

Removing the network on a host takes that host out: the peer plans undone, its kernel
side removed, its slice and leases given back; the last member takes the record along.
"""

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Collection

from fabric.errors import Conflict, FabricError, InvalidArgument
from fabric.network import ipam, slicing, underlay
from fabric.network.driver import NetworkDriver, SpansHosts, Tunnels
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.peering import Peering
from fabric.network.remotes import Remotes
from fabric.network.service import NetworkService, driver_part
from fabric.network.store import subnets_of
from fabric.plan import Plan

log = logging.getLogger(__name__)

InUse = Callable[[Collection[str]], list[ipam.InUse]]


class SharedNetworks:
    def __init__(self, svc: NetworkService, firewall: FirewallRendering, in_use: InUse):
        self.svc = svc
        self.firewall = firewall
        self.in_use = in_use    # Networks.subnets_in_use: other networks and host routes
        self.peering = Peering(svc, firewall)
        self.remotes = Remotes(svc, firewall)

    def wanted(self, drv: NetworkDriver, options: dict) -> bool:
        """Is a network of this driver with these options one the hosts share?"""
        if drv.scope == "global":
            return True
        if self.svc.host.cluster is None or not isinstance(drv, SpansHosts):
            return False
        return drv.spans_hosts(drv.validate(driver_part(options)))

    # --- create or join ------------------------------------------------------------------

    def create(self, name: str, drv: NetworkDriver, *, options: dict,
               ipam_config: list[dict] | None, internal: bool, labels: dict) -> dict:
        svc = self.svc
        cluster = svc.cluster()
        drv.validate(driver_part(options))   # bad options fail before anything
        cfgs = list(ipam_config or [{}])
        if len(cfgs) > 1:
            raise InvalidArgument("only one IPv4 subnet per network is supported")
        with svc.lock:
            if any(d["name"] == name for d in svc.list_networks()):
                raise Conflict(f"network with name {name} already exists")
            record = self._record(name, drv, options, cfgs[0], internal, labels)
            local = self._join(drv, record, options.get(slicing.SLICE))
            plan = drv.plan_create(svc.model(local))
            if svc.dry_run:
                svc.run(plan)
                return local
            try:
                svc.records.insert_network(local)
                try:
                    svc.run(plan)
                except BaseException:
                    svc.records.delete_network(local["id"])
                    raise
            except BaseException:
                cluster.leave(record["id"], svc.host.name)
                raise
            self.peering.sync([local["id"]], render=False)
            self.remotes.sync([local["id"]])
            self.firewall.render()
            return svc.get_network(local["id"])

    def _record(self, name: str, drv: NetworkDriver, options: dict, want: dict,
                internal: bool, labels: dict) -> dict:
        """The cluster's record of the network: found by name (this host joins it), or
        made. Two hosts making it at once: one insert wins, the other joins."""
        cluster = self.svc.cluster()
        shared_opts = {k: v for k, v in options.items() if k != slicing.SLICE}
        sliced = isinstance(drv, SpansHosts)
        for _ in range(3):
            doc = cluster.networks.find_network(name)
            if doc is not None and doc["name"] == name:
                _check_same(doc, drv.name, shared_opts, want, internal)
                return doc
            if want.get("IPRange") and sliced:
                raise InvalidArgument(f"network {name}: each host hands out addresses from "
                                      "its own slice; --ip-range does not apply (pin a "
                                      "host's slice with -o slice=CIDR)")
            sub = ipam.build(want.get("Subnet") or None, want.get("Gateway") or None,
                             want.get("IPRange") or None,
                             in_use=self._in_use(drv, driver_part(options)))
            tunnel = self._tunnel_id(drv, options)
            doc = {"id": secrets.token_hex(32), "name": name, "driver": drv.name,
                   "created": time.time(), "scope": "global", "internal": bool(internal),
                   "options": shared_opts, "labels": dict(labels), "hidden_options": {},
                   "ipam": [{"subnet": sub.subnet, "gateway": sub.gateway,
                             "ip_range": sub.ip_range}],
                   "host_prefix": slicing.host_prefix(options.get(slicing.HOST_PREFIX),
                                                      sub.subnet) if sliced else None,
                   "tunnel_id": tunnel}
            if self.svc.dry_run:
                return doc
            try:
                cluster.networks.insert_network(doc)
                return doc
            except Conflict:
                continue    # another host made it meanwhile: join theirs
        raise Conflict(f"network {name}: the cluster store kept changing; try again")

    def _tunnel_id(self, drv: NetworkDriver, options: dict) -> int | None:
        """A tunnelled network's id across the cluster: the one asked for, refused when
        another network has it, or the lowest free. (The record's insertion checks it
        again in its transaction: two hosts choosing at once cannot both have it.)"""
        if not isinstance(drv, Tunnels):
            return None
        asked = drv.tunnel_id(drv.validate(driver_part(options)))
        taken = {d.get("tunnel_id"): d["name"]
                 for d in self.svc.cluster().networks.list_networks()}
        if asked is not None:
            if asked in taken:
                raise Conflict(f"VNI {asked} is taken by network {taken[asked]} of the "
                               "cluster")
            return asked
        free = next((i for i in drv.tunnel_ids() if i not in taken), None)
        if free is None:
            raise Conflict(f"no VNI left for a {drv.name} network")
        return free

    def _in_use(self, drv: NetworkDriver, options: dict) -> list[ipam.InUse]:
        cluster = self.svc.cluster()
        used = self.in_use(self.svc.own_interfaces(drv, options))
        return used + [ipam.InUse(s["subnet"], f"network {d['name']} of the cluster")
                       for d in cluster.networks.list_networks() for s in d.get("ipam", ())]

    def _join(self, drv: NetworkDriver, record: dict, pin_text: str | None) -> dict:
        """This host's slice of the network, and its own row for it (not yet stored)."""
        svc = self.svc
        cluster = svc.cluster()
        whole = subnets_of(record)
        sliced = isinstance(drv, SpansHosts) and bool(whole)
        if pin_text is not None and not sliced:
            raise InvalidArgument(f"option {slicing.SLICE}: network {record['name']} is not "
                                  "sliced among hosts")
        piece = ""
        if sliced:
            pin = slicing.pinned(pin_text, whole[0].subnet)
            if svc.dry_run:
                taken = [p.subnet for p in cluster.members(record["id"])]
                piece = slicing.choose(whole[0].subnet, record["host_prefix"], taken, pin)
            else:
                piece = cluster.join(record["id"], svc.host.name, subnet=whole[0].subnet,
                                     host_prefix=record["host_prefix"], pinned=pin)
        elif not svc.dry_run:
            cluster.join(record["id"], svc.host.name, subnet="", host_prefix=None)
        local = dict(record)
        if sliced:
            assert isinstance(drv, SpansHosts)
            cfg = drv.validate(svc.driver_options(record))
            local["ipam"] = [dataclasses.asdict(drv.host_ipam(cfg, whole[0], piece))]
        local["shared"] = {"ipam": record["ipam"], "slice": piece, "peers": []}
        local["gateway_owned"] = True
        if isinstance(drv, Tunnels):
            try:
                local["underlay"] = underlay.capture(svc.host.netns, svc.host.underlay,
                                                     svc.host.name)
            except BaseException:
                if not svc.dry_run:
                    cluster.leave(record["id"], svc.host.name)
                raise
        try:
            svc.take_uplink(drv, local)
        except BaseException:
            if not svc.dry_run:
                cluster.leave(record["id"], svc.host.name)
            raise
        return local

    # --- leave ---------------------------------------------------------------------------

    def remove(self, doc: dict) -> dict:
        """Take this host out of the network (its endpoints are gone already)."""
        svc = self.svc
        model = svc.model(doc)
        drv = svc.driver(doc["driver"])
        plan = Plan((), best_effort=True, title=f"remove network {doc['name']}")
        if isinstance(drv, SpansHosts):
            for p in model.peers:
                plan = plan + drv.plan_peer_leave(model, p)
        plan = plan + drv.plan_delete(model)
        svc.run(plan)
        if svc.dry_run:
            return doc
        if svc.host.cluster is not None:
            try:
                svc.host.cluster.leave(doc["id"], svc.host.name)
            except FabricError as e:
                # the host's own side goes anyway; the store is told when it is back
                log.warning("network %s: leaving the cluster store: %s", doc["name"], e)
        svc.records.delete_network(doc["id"])
        self.firewall.render()
        return doc

def _check_same(doc: dict, driver: str, options: dict, want: dict, internal: bool) -> None:
    """A host joining a network asks for what it is, or for nothing more than its name
    and driver."""
    s = doc["ipam"][0] if doc.get("ipam") else {}
    asked = {"driver": driver, "subnet": want.get("Subnet") or s.get("subnet"),
             "gateway": want.get("Gateway") or s.get("gateway"),
             "options": options or doc.get("options") or {},
             "internal": bool(internal) or bool(doc.get("internal"))}
    have = {"driver": doc["driver"], "subnet": s.get("subnet"), "gateway": s.get("gateway"),
            "options": doc.get("options") or {}, "internal": bool(doc.get("internal"))}
    diff = [k for k in have if asked[k] != have[k]]
    if diff:
        shown = ", ".join(f"{k} {have[k]}" for k in diff)
        raise Conflict(f"network {doc['name']} exists in the cluster with {shown}; create it "
                       "with the same to join it")
