"""Global networks' records in the cluster store, as the network core's NetworkRecords.

    /fabric/networks/<id>        the network's record (JSON), as the host that made it
                                 recorded it: driver, options, the whole subnet
    /fabric/network-names/<name> its id: a name is taken by creating this key, so two
                                 hosts creating one name at once cannot both succeed
"""

import json

from fabric.cluster.kv import KV, Compare, Delete, Put
from fabric.errors import Conflict
from fabric.network import ipam
from fabric.network.store import subnets_of

ROOT = "/fabric/"
NETWORKS = ROOT + "networks/"
NAMES = ROOT + "network-names/"
SLICES = ROOT + "slices/"       # /fabric/slices/<network id>/<host>
LEASES = ROOT + "leases/"       # /fabric/leases/<network id>/<address>
PEERS = ROOT + "peers/"         # /fabric/peers/<host>
CONNECTIONS = ROOT + "connections/"   # /fabric/connections/<network id>/<host>


def network_key(network_id: str) -> str:
    return NETWORKS + network_id


class NetworkRecords:
    def __init__(self, kv: KV):
        self.kv = kv

    def insert_network(self, doc: dict) -> None:
        """Refused when the name is taken, or the subnet overlaps another global
        network's, or its tunnel id (a VNI) is another's; all checked in the
        transaction that writes."""
        for _ in range(16):
            others, rev = self.kv.range(NETWORKS)
            for kv in others:
                other = json.loads(kv.value)
                if doc.get("tunnel_id") is not None and \
                        other.get("tunnel_id") == doc["tunnel_id"]:
                    raise Conflict(f"VNI {doc['tunnel_id']} is taken by network "
                                   f"{other['name']} of the cluster")
                for s in subnets_of(other):
                    for m in subnets_of(doc):
                        if ipam.overlaps(ipam.parse_subnet(m.subnet),
                                         ipam.parse_subnet(s.subnet)):
                            raise Conflict(f"subnet {m.subnet} overlaps with network "
                                           f"{other['name']} ({s.subnet}) of the cluster")
            ok, _ = self.kv.txn(
                [Compare(NAMES + doc["name"], "create", "=", 0),
                 Compare(NETWORKS, "mod", "<", rev + 1, prefix=True)],
                [Put(NAMES + doc["name"], doc["id"]),
                 Put(network_key(doc["id"]), json.dumps(doc))])
            if ok:
                return
            if self.kv.get(NAMES + doc["name"]) is not None:
                raise Conflict(f"network with name {doc['name']} already exists")
        raise Conflict(f"network {doc['name']}: the cluster store kept changing")

    def update_network(self, doc: dict) -> None:
        self.kv.txn([Compare(network_key(doc["id"]), "create", ">", 0)],
                    [Put(network_key(doc["id"]), json.dumps(doc))])

    def find_network(self, ref: str) -> dict | None:
        """By id, name or unique id prefix, as the host's own store finds them."""
        kv = self.kv.get(network_key(ref))
        if kv is None:
            named = self.kv.get(NAMES + ref)
            kv = self.kv.get(network_key(named.value)) if named is not None else None
        if kv is not None:
            return json.loads(kv.value)
        if ref and all(ch in "0123456789abcdef" for ch in ref):
            hits, _ = self.kv.range(network_key(ref))
            if len(hits) > 1:
                raise Conflict(f"network {ref} is ambiguous ({len(hits)} matches)")
            if hits:
                return json.loads(hits[0].value)
        return None

    def list_networks(self) -> list[dict]:
        kvs, _ = self.kv.range(NETWORKS)
        return sorted((json.loads(kv.value) for kv in kvs), key=lambda d: d["created"])

    def delete_network(self, network_id: str) -> None:
        """The record, its name and every slice and lease on it."""
        doc = self.find_network(network_id)
        if doc is None:
            return
        self.kv.txn([], deletion(doc))


def deletion(doc: dict) -> list:
    nid = doc["id"]
    return [Delete(network_key(nid)), Delete(NAMES + doc["name"]),
            Delete(f"{SLICES}{nid}/", prefix=True), Delete(f"{LEASES}{nid}/", prefix=True),
            Delete(f"{CONNECTIONS}{nid}/", prefix=True)]
