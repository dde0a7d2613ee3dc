"""A second process on the cluster store, for the tests that need two at once.

    store_worker.py allocate URL NETWORK_ID NAME ROUNDS START   slices and addresses
    store_worker.py write URL PREFIX COUNT                       puts and deletes
    store_worker.py put URL KEY                                  one put, its time

`allocate` waits until the wall clock reaches START, so two workers begin together;
then, round after round, it joins the network as a new host and leases addresses
through the network core's SharedAllocator, the product's own path, and prints what
it got as JSON lines. `write` prints the changes it made, in order.
"""

import json
import os
import sys
import tempfile
import time

from fabric.cluster.connect import connect
from fabric.network.allocator import SharedAllocator
from fabric.network.store import NetworkStore
from fabric.store.db import Store

ADDRESSES = 3   # leased per round


def allocate(url: str, network_id: str, name: str, rounds: int, start: float) -> None:
    cluster = connect(url)
    net = cluster.networks.find_network(network_id)
    assert net is not None
    with tempfile.TemporaryDirectory() as d:
        records = NetworkStore(Store(os.path.join(d, "host.db")))
        local = dict(net, ipam=[{"subnet": "10.60.0.0/16", "gateway": "10.60.0.1",
                                 "ip_range": None}])
        records.insert_network(local)
        time.sleep(max(0.0, start - time.time()))
        for i in range(rounds):
            host = f"{name}-{i}"
            piece = cluster.join(network_id, host, subnet=net["ipam"][0]["subnet"],
                                 host_prefix=24)
            alloc = SharedAllocator(cluster, records, host)
            for j in range(ADDRESSES):
                ep = alloc.assign(local, f"{host}-c{j}", None, lambda a, h=host, j=j: {
                    "id": f"{h}-e{j}", "address": a, "container_id": f"{h}-c{j}"})
                print(json.dumps({"host": host, "address": ep["address"]}), flush=True)
            print(json.dumps({"host": host, "slice": piece}), flush=True)


def write(url: str, prefix: str, count: int) -> None:
    kv = connect(url).kv
    from fabric.cluster.kv import Delete, Put
    last = kv.revision()
    for i in range(count):
        key = f"{prefix}{i % 7}"
        op = Delete(key) if i % 5 == 4 else Put(key, str(i))
        _, rev = kv.txn([], [op])
        if rev > last:      # a delete of a key that is not there changes nothing
            print(json.dumps([rev, "delete" if isinstance(op, Delete) else "put", key,
                              None if isinstance(op, Delete) else str(i)]), flush=True)
        last = rev


def put(url: str, key: str) -> None:
    from fabric.cluster.kv import Put
    kv = connect(url).kv
    kv.txn([], [Put(key, repr(time.time()))])


if __name__ == "__main__":
    cmd, url, *rest = sys.argv[1:]
    if cmd == "allocate":
        allocate(url, rest[0], rest[1], int(rest[2]), float(rest[3]))
    elif cmd == "write":
        write(url, rest[0], int(rest[1]))
    else:
        put(url, rest[0])
