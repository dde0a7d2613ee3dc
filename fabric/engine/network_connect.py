"""`network connect` and `network disconnect` of a container, running or not.

The container's document is the one source of truth for which networks it is on
(fabric/network/reconcile.py): connect saves it last, after the endpoint is recorded
and wired, and disconnect saves it first, before the endpoint goes, so a daemon killed
in between leaves an endpoint no document backs, which the next daemon removes: the
container is on the network exactly when `inspect` says so.
"""

import json

from fabric.engine import network_modes
from fabric.engine import network_requests as rq
from fabric.engine.network_hosts import HostsFiles
from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.network import endpoints
from fabric.network.core import NetworkCore
from fabric.network.service import BUILTIN

RUNNING = ("running", "paused")


class Connections:
    def __init__(self, engine, core: NetworkCore, hosts: HostsFiles):
        self.engine = engine
        self.core = core
        self.hosts = hosts

    def connect(self, net_ref: str, container_ref: str, config: dict | None = None) -> None:
        C = self.engine.containers
        cid = C.id_of(container_ref)
        with C.lock(cid):
            doc = C.get(cid)
            mode = network_modes.mode(doc)
            if mode == "host" or mode.startswith("container:"):
                raise InvalidArgument(f"container sharing the {mode.split(':')[0]} network "
                                      "namespace cannot be connected to another network")
            net = self.core.networks.get(net_ref)
            if net["name"] in BUILTIN:
                raise InvalidArgument(f"container cannot be connected to the {net['name']} "
                                      "network")
            nets = doc["NetworkSettings"].setdefault("Networks", {})
            if net["name"] in nets:
                raise Conflict(f"endpoint with name {doc['Name'].lstrip('/')} already exists "
                               f"in network {net['name']}")
            req = rq.endpoint_request(net, config or {})
            endpoints.check(net, req)
            es = rq.settings_for(net, config or {})
            joined = None
            if doc["State"]["Status"] in RUNNING:
                joined = self.core.attachments.connect(
                    rq.member(doc), doc["NetworkSettings"].get("SandboxKey"), req)
                if joined is None:
                    return  # a dry run
                rq.fill(doc, net, es, joined.endpoint)
            elif self.core.svc.dry_run:
                return
            if mode == "none" and nets.get("none") is not None:
                nets.pop("none")
            nets[net["name"]] = es
            try:
                C.save(doc)
            except BaseException:
                if joined is not None:
                    self.core.attachments.disconnect(cid, net["id"], doc["NetworkSettings"]
                                                     .get("SandboxKey"), force=True)
                raise
        if joined is not None:
            self.hosts.write(doc)
            self.hosts.refresh(joined.affected)

    def disconnect(self, net_ref: str, container_ref: str, force: bool = False) -> None:
        C = self.engine.containers
        cid = C.id_of(container_ref)
        with C.lock(cid):
            doc = C.get(cid)
            nets = doc["NetworkSettings"].get("Networks") or {}
            net = self.core.svc.find_network(net_ref)
            # a document may name a network removed behind its back (an older root):
            # it can still be disconnected from it
            name = net["name"] if net is not None else net_ref
            if name not in nets:
                if net is None:
                    raise NotFound(f"network {net_ref} not found")
                raise Conflict(f"container {doc['Name'].lstrip('/')} is not connected to "
                               f"network {name}")
            if name in BUILTIN:
                raise InvalidArgument(f"container cannot be disconnected from the "
                                      f"{name} network")
            nid = net["id"] if net is not None else nets[name].get("NetworkID") or ""
            netns = doc["NetworkSettings"].get("SandboxKey") or None
            if self.core.svc.dry_run:
                self.core.attachments.disconnect(cid, nid, netns, force)
                return
            before = json.loads(json.dumps(doc))
            nets.pop(name)
            if net is not None and net.get("default"):
                rq.clear_top(doc)
            C.save(doc)
            try:
                affected = self.core.attachments.disconnect(cid, nid, netns, force)
            except BaseException:
                C.save(before)   # still connected, as the endpoint is
                raise
        if doc["State"]["Status"] in RUNNING:
            self.hosts.write(doc)
            self.hosts.refresh(affected or frozenset())
