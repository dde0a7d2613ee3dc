"""Endpoint addresses: the allocator interface, and this host's own allocator.

The network core asks a network's allocator for every endpoint address and never
chooses one itself. A local network's allocator is this host's store: the endpoint
row is the address's lease, chosen and inserted in one write transaction. A global
network's comes from the cluster store (context.ClusterStore.allocator), which must
keep the same promise across hosts: no address handed out twice, also when two hosts
ask at once.
"""

from collections.abc import Callable
from typing import Protocol

from fabric.network import ipam
from fabric.network.store import NetworkStore, subnets_of

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
