"""The cluster store: what the hosts of a cluster share, on any KV backend (kv.py).

It implements the network core's ClusterStore (fabric/network/context.py) and adds
what only the daemon's watch uses (peers, changes). Keys, each value JSON:

    /fabric/networks/<id>, /fabric/network-names/<name>   global networks (records.py)
    /fabric/slices/<network id>/<host>     {"host", "subnet", "joined"}: the host is a
                                           member, holding this slice ("" unsliced)
    /fabric/leases/<network id>/<address>  {"host", "container", ...}: an address taken,
                                           and the endpoint registry's entry for the
                                           container behind it (fabric/network/registry.py)
    /fabric/peers/<host>                   {"host", "underlay", "joined", "seen"}
    /fabric/connections/<network id>/<host> {"host", "wanted", "by", "since"}: the
                                           members told to connect to it, or forget it

Nothing here knows SQLite: the overlays issue's etcd backend implements kv.KV and
passes the same tests (tests/cluster/test_store.py takes the backend as a fixture).
"""

import json
import time

from fabric.cluster.kv import KV, Compare, Delete, Event, Put
from fabric.cluster.records import (
    CONNECTIONS,
    LEASES,
    NETWORKS,
    PEERS,
    ROOT,
    SLICES,
    NetworkRecords,
    deletion,
    network_key,
)
from fabric.errors import Conflict, NotFound
from fabric.network import slicing
from fabric.network.context import Registered
from fabric.network.model import Peer

ATTEMPTS = 64   # optimistic transactions retried when another host got there first


class Cluster:
    def __init__(self, kv: KV, url: str = ""):
        self.kv = kv
        self.url = url      # as the setting names it, for messages
        self._networks = NetworkRecords(kv)

    @property
    def networks(self) -> NetworkRecords:
        return self._networks

    def close(self) -> None:
        self.kv.close()

    # --- slices: who is a member of which network --------------------------------------

    def join(self, network_id: str, host: str, *, subnet: str, host_prefix: int | None,
             pinned: str | None = None) -> str:
        prefix = f"{SLICES}{network_id}/"
        for _ in range(ATTEMPTS):
            kvs, rev = self.kv.range(prefix)
            slices = {json.loads(kv.value)["host"]: json.loads(kv.value)["subnet"]
                      for kv in kvs}
            if host in slices:
                mine = slices[host]
                if pinned is not None and pinned != mine:
                    raise Conflict(f"host {host} holds slice {mine} of the network already")
                return mine
            piece = slicing.choose(subnet, host_prefix, slices.values(), pinned) \
                if subnet and host_prefix else ""
            value = {"host": host, "subnet": piece, "joined": time.time()}
            # holds only if no other host joined (or left) since the read, and the
            # network still exists: then no two hosts can hold overlapping slices
            ok, _ = self.kv.txn([Compare(prefix, "mod", "<", rev + 1, prefix=True),
                                 Compare(network_key(network_id), "create", ">", 0)],
                                [Put(prefix + host, json.dumps(value))])
            if ok:
                return piece
            if self.kv.get(network_key(network_id)) is None:
                raise NotFound(f"network {network_id[:12]} is not in the cluster store")
        raise Conflict("the cluster store kept changing while a slice was chosen; try again")

    def leave(self, network_id: str, host: str) -> None:
        prefix = f"{SLICES}{network_id}/"
        for _ in range(ATTEMPTS):
            kvs, rev = self.kv.range(prefix)
            others = [kv for kv in kvs if kv.key != prefix + host]
            ops: list = [Delete(prefix + host)]
            leases, _ = self.kv.range(f"{LEASES}{network_id}/")
            ops += [Delete(kv.key) for kv in leases if json.loads(kv.value)["host"] == host]
            if not others:
                doc = self._networks.find_network(network_id)
                ops = deletion(doc) if doc is not None else ops
            ok, _ = self.kv.txn([Compare(prefix, "mod", "<", rev + 1, prefix=True)], ops)
            if ok:
                return
        raise Conflict("the cluster store kept changing while leaving; try again")

    def members(self, network_id: str) -> list[Peer]:
        kvs, _ = self.kv.range(f"{SLICES}{network_id}/")
        peers = {p["host"]: p for p in self.peers()}
        out = []
        for kv in kvs:
            v = json.loads(kv.value)
            out.append(Peer(v["host"], v["subnet"], (peers.get(v["host"]) or {}).get("underlay")))
        return out

    # --- leases: addresses taken on a network ----------------------------------------------

    def lease(self, network_id: str, address: str, holder: dict) -> bool:
        key = f"{LEASES}{network_id}/{address}"
        ok, _ = self.kv.txn([Compare(key, "create", "=", 0)], [Put(key, json.dumps(holder))])
        return ok

    def release(self, network_id: str, address: str) -> None:
        self.kv.txn([], [Delete(f"{LEASES}{network_id}/{address}")])

    def leased(self, network_id: str) -> list[str]:
        """Addresses leased on the network, and the hosts' own underlay addresses: on a
        network that is the hosts' LAN itself (a bridge with an uplink) no container
        may take one of those."""
        prefix = f"{LEASES}{network_id}/"
        kvs, _ = self.kv.range(prefix)
        hosts = [p["underlay"] for p in self.peers() if p.get("underlay")]
        return [kv.key[len(prefix):] for kv in kvs] + hosts

    # --- the endpoint registry: leases with what stands behind them -------------------

    def endpoints(self, network_id: str) -> list[Registered]:
        prefix = f"{LEASES}{network_id}/"
        kvs, _ = self.kv.range(prefix)
        return [Registered(kv.key, kv.mod_revision, json.loads(kv.value)) for kv in kvs]

    def publish(self, network_id: str, address: str, entry: dict) -> bool:
        key = f"{LEASES}{network_id}/{address}"
        for _ in range(ATTEMPTS):
            old = self.kv.get(key)
            if old is None:
                guard = Compare(key, "create", "=", 0)
            elif json.loads(old.value).get("host") == entry["host"]:
                guard = Compare(key, "mod", "=", old.mod_revision)
            else:
                return False
            ok, _ = self.kv.txn([guard], [Put(key, json.dumps(entry))])
            if ok:
                return True
        raise Conflict("the cluster store kept changing while an endpoint was published")

    # --- connections: whom the members of a network were told to reach or forget ------

    def connections(self, network_id: str) -> dict[str, dict]:
        kvs, _ = self.kv.range(f"{CONNECTIONS}{network_id}/")
        return {v["host"]: v for v in (json.loads(kv.value) for kv in kvs)}

    def set_connection(self, network_id: str, host: str, wanted: bool, by: str) -> None:
        key = f"{CONNECTIONS}{network_id}/{host}"
        value = {"host": host, "wanted": wanted, "by": by, "since": time.time()}
        # only while the network exists: its removal takes these keys along
        ok, _ = self.kv.txn([Compare(network_key(network_id), "create", ">", 0)],
                            [Put(key, json.dumps(value))])
        if not ok:
            raise NotFound(f"network {network_id[:12]} is not in the cluster store")

    # --- peers: the hosts, and where they are reached ---------------------------------------

    def register(self, host: str, underlay: str | None) -> None:
        """Say this host is up and where it is reached; first joined time kept."""
        key = PEERS + host
        old = self.kv.get(key)
        joined = json.loads(old.value)["joined"] if old is not None else time.time()
        value = {"host": host, "underlay": underlay, "joined": joined, "seen": time.time()}
        self.kv.txn([], [Put(key, json.dumps(value))])

    def forget(self, host: str) -> None:
        """The host is gone for good: out of every network, and off the peer list."""
        kvs, _ = self.kv.range(SLICES)
        for kv in kvs:
            if json.loads(kv.value)["host"] == host:
                self.leave(kv.key[len(SLICES):].split("/")[0], host)
        self.kv.txn([], [Delete(PEERS + host)])

    def peers(self) -> list[dict]:
        kvs, _ = self.kv.range(PEERS)
        return [json.loads(kv.value) for kv in kvs]

    def held_by(self, host: str) -> tuple[list[str], list[tuple[str, str, dict]]]:
        """What the store says `host` holds: the networks it has a slice of, and its
        leases as (network id, address, holder)."""
        slices, _ = self.kv.range(SLICES)
        leases, _ = self.kv.range(LEASES)
        nets = [kv.key[len(SLICES):].split("/")[0] for kv in slices
                if json.loads(kv.value)["host"] == host]
        mine = []
        for kv in leases:
            holder = json.loads(kv.value)
            if holder.get("host") == host:
                nid, address = kv.key[len(LEASES):].split("/", 1)
                mine.append((nid, address, holder))
        return nets, mine

    # --- watching ------------------------------------------------------------------------

    def revision(self) -> int:
        return self.kv.revision()

    def changes(self, after: int, timeout: float) -> tuple[list[Event], int]:
        return self.kv.changes(ROOT, after, timeout)


def endpoints_touched(events: list[Event]) -> set[str]:
    """The networks whose endpoint registry (leases) or connections changed."""
    return {e.key.split("/")[3] for e in events
            if e.key.startswith(LEASES) or e.key.startswith(CONNECTIONS)}


def networks_touched(events: list[Event]) -> set[str] | None:
    """The networks whose members changed; None when any may have (a peer's address)."""
    out: set[str] = set()
    for e in events:
        if e.key.startswith(PEERS):
            return None
        if e.key.startswith(SLICES) or e.key.startswith(NETWORKS):
            out.add(e.key.split("/")[3])
    return out
