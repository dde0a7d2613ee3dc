"""The shared allocator against another host that leases the same address a moment
earlier: the race a lease settles, whatever the first look at the store showed."""

import pytest

from fabric.errors import Conflict
from fabric.network.allocator import SharedAllocator
from fabric.network.context import Registered

NET = {"id": "n1", "name": "weave",
       "ipam": [{"subnet": "10.32.0.0/16", "gateway": "10.32.0.1"}]}


def mac_of(address: str) -> str:
    a, b, c, d = (int(x) for x in address.split("/")[0].split("."))
    return f"02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


class Store:
    """The cluster store as a host sees it while h2 takes 10.32.0.2: the list of
    leased addresses read before h2's lease, the registry after it."""

    def __init__(self) -> None:
        self.held = {"10.32.0.2": {"host": "h2", "name": "b", "mac": mac_of("10.32.0.2")}}
        self.looks = 0

    def leased(self, network_id):
        self.looks += 1
        return [] if self.looks == 1 else list(self.held)

    def endpoints(self, network_id):
        return [Registered(f"/fabric/leases/{network_id}/{ip}", 1, v)
                for ip, v in self.held.items()]

    def lease(self, network_id, address, holder):
        if address in self.held:
            return False
        self.held[address] = holder
        return True

    def release(self, network_id, address):
        self.held.pop(address, None)


class Records:
    def create_endpoint(self, net, container_id, choose, make_record):
        return make_record(choose([]))


def record(address: str) -> dict:
    return {"id": "e1", "container_id": "c" * 64, "container_name": "a",
            "address": address, "mac": mac_of(address)}


def test_an_address_another_host_took_meanwhile_makes_the_allocator_choose_again():
    store = Store()
    got = SharedAllocator(store, Records(), "h1").assign(NET, "c" * 64, None, record)
    assert got["address"] == "10.32.0.3/16"
    assert store.held["10.32.0.3"]["host"] == "h1"


def test_the_same_address_requested_is_refused_as_in_use_by_its_holder():
    with pytest.raises(Conflict, match=r"address 10.32.0.2 is already in use on network "
                                       r"weave \(container b on host h2\)"):
        SharedAllocator(Store(), Records(), "h1").assign(NET, "c" * 64, "10.32.0.2", record)


def test_a_mac_held_for_another_address_is_a_clash():
    store = Store()
    store.looks = 1      # h2's lease seen at once: 10.32.0.3 is chosen

    def same_mac(address: str) -> dict:
        return record(address) | {"mac": mac_of("10.32.0.2")}
    with pytest.raises(Conflict, match="MAC address 02:42:0a:20:00:02 is already in use "
                                       r"on network weave \(container b on host h2\)"):
        SharedAllocator(store, Records(), "h1").assign(NET, "c" * 64, None, same_mac)
