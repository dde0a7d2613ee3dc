"""Endpoint addresses: the allocator interface, and this host's own allocator.

The network core asks a network's allocator for every endpoint address and never
chooses one itself. A local network's allocator is this host's store: the endpoint
row is the address's lease, chosen and inserted in one write transaction. A global
network's (SharedAllocator) leases each address in the cluster store first
(context.ClusterStore), which keeps the same promise across hosts: no address handed
out twice, also when two hosts ask at once.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from fabric.errors import Conflict, Unavailable
from fabric.network import ipam, registry
from fabric.network.store import NetworkStore, subnets_of

if TYPE_CHECKING:
    from fabric.network.context import Registered

log = logging.getLogger(__name__)

# builds the endpoint's record once its address is known (its MAC may derive from it)
MakeRecord = Callable[[str], dict]


class AddressAllocator(Protocol):
    def preview(self, net: dict, requested: str | None) -> str:
        """The address `assign` would give now, changing nothing (dry runs)."""

    def assign(self, net: dict, container_id: str, requested: str | None,
               make_record: MakeRecord) -> dict:
        """Choose an address on `net` (the requested one, or the lowest free) and
        record the endpoint `make_record(address)` on this host, so that no other
        endpoint gets the address until `release`. Atomic: on any error nothing is
        recorded. Conflict when the address is taken or none is left. A network
        without IPAM gets the address ""."""

    def release(self, net: dict, endpoint_id: str) -> None:
        """Forget the endpoint and free its address; already gone is success."""


class LocalAllocator:
    """Addresses of this host's local networks, leased by their endpoint rows."""

    def __init__(self, records: NetworkStore):
        self.records = records

    def _choose(self, net: dict, requested: str | None) -> Callable[[list[str]], str]:
        subnets = subnets_of(net)

        def choose(used: list[str]) -> str:
            if not subnets:
                return ""   # a network without IPAM (a driver's own addressing)
            return ipam.allocate_in(subnets, used, requested, network_name=net["name"])
        return choose

    def preview(self, net: dict, requested: str | None) -> str:
        used = [e["address"] for e in self.records.endpoints(network_id=net["id"])]
        return self._choose(net, requested)(used)

    def assign(self, net: dict, container_id: str, requested: str | None,
               make_record: MakeRecord) -> dict:
        return self.records.create_endpoint(net, container_id, self._choose(net, requested),
                                            make_record)

    def release(self, net: dict, endpoint_id: str) -> None:
        self.records.delete_endpoint(endpoint_id)


class SharedAllocator:
    """Addresses of a network the hosts of a cluster share: each is leased in the
    cluster store first, so no two hosts ever hand out one address, then recorded as
    the endpoint in this host's store. Leasing is optimistic: choose the lowest
    address no host holds, lease it if still free, choose again if another host took
    it meanwhile."""

    ATTEMPTS = 32

    def __init__(self, cluster: "ClusterLeases", records: NetworkStore, host: str,
                 vtep: tuple[str | None, str | None] = (None, None)):
        self.cluster = cluster
        self.records = records
        self.host = host
        self.vtep = vtep    # this host's tunnel end on the network: (underlay, MAC)

    def preview(self, net: dict, requested: str | None) -> str:
        return self._choose(net, requested, self.cluster.leased(net["id"]))

    @staticmethod
    def _choose(net: dict, requested: str | None, used: list[str]) -> str:
        subnets = subnets_of(net)
        if not subnets:
            return ""
        return ipam.allocate_in(subnets, used, requested, network_name=net["name"])

    def assign(self, net: dict, container_id: str, requested: str | None,
               make_record: MakeRecord) -> dict:
        if not subnets_of(net):
            return self.records.create_endpoint(net, container_id, lambda used: "",
                                                make_record)
        for _ in range(self.ATTEMPTS):
            try:
                address = self._choose(net, requested, self.cluster.leased(net["id"]))
            except Conflict as e:
                if not requested:
                    raise
                raise Conflict(e.message + self._held_by(net, requested.split("/")[0])) \
                    from None
            ip = address.split("/")[0]
            # the lease is the endpoint registry's entry too (registry.py): who holds
            # the address, and the MAC and tunnel end behind it
            holder = registry.entry(self.host, make_record(address), *self.vtep)
            # another host that took this address meanwhile holds its MAC too (derived
            # from the address): that is the race a lease settles, not a MAC clash
            if not self._mac_clash(net, holder, ip) and \
                    self.cluster.lease(net["id"], ip, holder):
                break
            if requested:
                raise Conflict(f"address {ip} is already in use on network {net['name']}"
                               f"{self._held_by(net, ip)}")
        else:
            raise Conflict(f"no address could be leased on network {net['name']}: other "
                           "hosts kept taking the one chosen")
        try:
            return self.records.create_endpoint(net, container_id, lambda used: address,
                                                make_record)
        except BaseException:
            self.cluster.release(net["id"], ip)
            raise

    def _held_by(self, net: dict, ip: str) -> str:
        for r in self.cluster.endpoints(net["id"]):
            if r.key.rsplit("/", 1)[-1] == ip and r.value.get("host") != self.host:
                who = r.value.get("name") or r.value.get("container", "")[:12]
                return f" (container {who} on host {r.value['host']})"
        return ""

    def _mac_clash(self, net: dict, entry: dict, ip: str) -> bool:
        """A MAC is one container's on a network spanning hosts, as on one host: True
        when it is another host's lease of `ip` itself that holds it."""
        if not entry["mac"]:
            return False
        for r in self.cluster.endpoints(net["id"]):
            if r.value.get("mac") == entry["mac"] and r.value.get("host") != self.host:
                if r.key.rsplit("/", 1)[-1] == ip:
                    return True
                raise Conflict(f"MAC address {entry['mac']} is already in use on network "
                               f"{net['name']} (container {r.value.get('name')} on host "
                               f"{r.value['host']})")
        return False

    def release(self, net: dict, endpoint_id: str) -> None:
        for ep in self.records.endpoints(network_id=net["id"]):
            if ep["id"] == endpoint_id:
                self.records.delete_endpoint(endpoint_id)
                if ep.get("address"):
                    address = ep["address"].split("/")[0]
                    try:
                        self.cluster.release(net["id"], address)
                    except Unavailable as e:
                        # the container goes all the same; the daemon's cluster watch
                        # gives the lease back once the store answers (cluster/catchup.py)
                        log.warning("network %s: address %s stays leased until the "
                                    "cluster store is back: %s", net["name"], address,
                                    e.message)


class ClusterLeases(Protocol):
    """The part of the cluster store (context.ClusterStore) addresses are leased from."""

    def lease(self, network_id: str, address: str, holder: dict) -> bool: ...

    def release(self, network_id: str, address: str) -> None: ...

    def leased(self, network_id: str) -> list[str]: ...

    def endpoints(self, network_id: str) -> list["Registered"]: ...
