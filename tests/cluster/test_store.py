"""The cluster store on each backend: etcd's model (revisions, transactions, changes
since a revision), the records, slices, leases and peers on top, and two processes
allocating at the same moment.

Every test takes the `store_url` or `cluster` fixture (conftest.py), parametrised by
backend: an etcd backend passes by being added there."""

import hashlib
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import pytest

from fabric.cluster.connect import connect
from fabric.cluster.kv import Compacted, Compare, Delete, Put
from fabric.cluster.store import networks_touched
from fabric.errors import Conflict, InvalidArgument, NotFound

WORKER = os.path.join(os.path.dirname(__file__), "store_worker.py")


def worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WORKER, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen, timeout: float = 60) -> list:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def network(cluster, name="cnet", subnet="10.40.0.0/16") -> dict:
    doc = {"id": hashlib.sha256(name.encode()).hexdigest(), "name": name,
           "driver": "routing", "created": time.time(), "scope": "global",
           "ipam": [{"subnet": subnet, "gateway": subnet.replace("0/", "1/").split("/")[0],
                     "ip_range": None}], "host_prefix": 24}
    cluster.networks.insert_network(doc)
    return doc


# --- the key-value model -------------------------------------------------------------

def test_revisions_count_writing_transactions(cluster):
    kv = cluster.kv
    r0 = kv.revision()
    ok, r1 = kv.txn([], [Put("/t/a", "1"), Put("/t/b", "2")])
    assert ok and r1 == r0 + 1      # one revision for the whole transaction
    ok, r2 = kv.txn([], [Put("/t/a", "3")])
    a = kv.get("/t/a")
    assert (a.value, a.create_revision, a.mod_revision, a.version) == ("3", r1, r2, 2)
    ok, r3 = kv.txn([], [Delete("/t/nothing")])
    assert ok and r3 == r2           # nothing changed: no revision
    ok, r4 = kv.txn([], [Delete("/t/", prefix=True)])
    assert r4 == r2 + 1 and kv.range("/t/") == ([], r4)
    with pytest.raises(InvalidArgument, match="changed twice"):
        kv.txn([], [Put("/t/x", "1"), Delete("/t/", prefix=True)])
    assert kv.get("/t/x") is None and kv.revision() == r4


def test_compares_hold_as_etcd_s_do(cluster):
    kv = cluster.kv
    kv.txn([], [Put("/c/a", "1")])
    rev = kv.revision()
    # an absent key has revision 0 and fails any compare on its value
    assert kv.txn([Compare("/c/none", "create", "=", 0)], [])[0]
    assert not kv.txn([Compare("/c/none", "value", "!=", "x")], [])[0]
    assert kv.txn([Compare("/c/a", "value", "=", "1")], [])[0]
    # a prefix compare holds for every key under it, and vacuously for none
    assert kv.txn([Compare("/c/", "mod", "<", rev + 1, prefix=True)], [])[0]
    assert kv.txn([Compare("/empty/", "mod", "<", 1, prefix=True)], [])[0]
    kv.txn([], [Put("/c/b", "2")])
    ok, _ = kv.txn([Compare("/c/", "mod", "<", rev + 1, prefix=True)],
                   [Put("/c/won", "1")], [Put("/c/lost", "1")])
    assert not ok and kv.get("/c/won") is None and kv.get("/c/lost").value == "1"
    assert [k.key for k in kv.range("/c/")[0]] == ["/c/a", "/c/b", "/c/lost"]


def test_changes_since_a_revision_miss_nothing_while_another_process_writes(store_url):
    kv = connect(store_url).kv
    start = kv.revision()
    p = worker("write", store_url, "/w/", "400")
    got, rev = [], start
    while p.poll() is None or rev < kv.revision():
        events, rev = kv.changes("/w/", rev, 0.2)
        got += [[e.revision, e.type, e.key, e.value] for e in events]
    wrote = finish(p)
    assert got == wrote and len(wrote) > 300
    # a prefix sees only its own keys; and from a revision, only what came after
    kv.txn([], [Put("/other/x", "1")])
    assert kv.changes("/w/", rev, 0.05)[0] == []
    assert [e.key for e in kv.changes("/other/", rev, 0)[0]] == ["/other/x"]


def test_changes_older_than_the_history_kept_say_so(cluster):
    kv = cluster.kv
    before = kv.revision()
    for i in range(5):
        kv.txn([], [Put("/h/k", str(i))])
    kv.compact(kv.revision() - 1)
    with pytest.raises(Compacted):
        kv.changes("/h/", before, 0)
    events, _ = kv.changes("/h/", kv.revision() - 1, 0)
    assert [e.value for e in events] == ["4"]


def test_a_watcher_wakes_within_milliseconds_of_another_process_writing(store_url):
    kv = connect(store_url).kv
    delays = []
    for i in range(10):
        rev = kv.revision()
        woke: list[float] = []

        def watch(rev=rev, woke=woke):
            events, _ = kv.changes("/lat/", rev, 5.0)
            woke.append(time.time())
            assert events
        t = threading.Thread(target=watch)
        t.start()
        time.sleep(0.05)   # the watcher is waiting, not polling by luck
        p = worker("put", store_url, f"/lat/{i}")
        finish(p)
        t.join()
        put_at = float(kv.get(f"/lat/{i}").value)
        delays.append(woke[0] - put_at)
    print(f"watch latency: median {statistics.median(delays) * 1000:.1f} ms, "
          f"max {max(delays) * 1000:.1f} ms")
    assert statistics.median(delays) < 0.05 and max(delays) < 0.5


# --- records, slices, leases, peers --------------------------------------------------------

def test_network_records_names_and_subnets_are_unique(cluster):
    doc = network(cluster)
    with pytest.raises(Conflict, match="network with name cnet already exists"):
        cluster.networks.insert_network(dict(doc, id="f" * 64, ipam=[{
            "subnet": "10.41.0.0/16", "gateway": "10.41.0.1"}]))
    with pytest.raises(Conflict, match="overlaps with network cnet"):
        cluster.networks.insert_network(dict(doc, id="f" * 64, name="other"))
    assert cluster.networks.find_network("cnet")["id"] == doc["id"]
    assert cluster.networks.find_network(doc["id"][:6])["name"] == "cnet"
    assert cluster.networks.find_network("nope") is None
    doc["labels"] = {"k": "v"}
    cluster.networks.update_network(doc)
    assert cluster.networks.list_networks()[0]["labels"] == {"k": "v"}


def test_slices_in_the_order_hosts_join_or_pinned(cluster):
    doc = network(cluster)
    join = lambda h, pin=None: cluster.join(doc["id"], h, subnet="10.40.0.0/16",  # noqa: E731
                                            host_prefix=24, pinned=pin)
    assert join("h3", "10.40.0.0/24") == "10.40.0.0/24"
    assert join("h1") == "10.40.1.0/24"
    assert join("h2") == "10.40.2.0/24"
    assert join("h1") == "10.40.1.0/24"          # joined already: the same one
    with pytest.raises(Conflict, match="overlaps another host's slice 10.40.2.0/24"):
        join("h4", "10.40.2.0/23")
    cluster.register("h1", "192.168.18.11")
    assert {(p.host, p.subnet, p.underlay) for p in cluster.members(doc["id"])} == {
        ("h1", "10.40.1.0/24", "192.168.18.11"), ("h2", "10.40.2.0/24", None),
        ("h3", "10.40.0.0/24", None)}
    cluster.leave(doc["id"], "h2")
    assert join("h5") == "10.40.2.0/24"          # given back, handed out again
    with pytest.raises(NotFound):
        cluster.join("e" * 64, "h1", subnet="10.40.0.0/16", host_prefix=24)


def test_the_last_member_leaving_takes_the_record_its_slices_and_leases(cluster):
    doc = network(cluster, subnet="10.40.0.0/23")
    for h in ("h1", "h2"):
        cluster.join(doc["id"], h, subnet="10.40.0.0/23", host_prefix=24)
    with pytest.raises(Conflict, match="no /24 slice left"):
        cluster.join(doc["id"], "h3", subnet="10.40.0.0/23", host_prefix=24)
    assert cluster.lease(doc["id"], "10.40.0.2", {"host": "h1"})
    assert not cluster.lease(doc["id"], "10.40.0.2", {"host": "h2"})
    assert cluster.lease(doc["id"], "10.40.1.2", {"host": "h2"})
    cluster.register("h2", "10.40.1.9")               # a host's own: taken on its LAN
    assert cluster.leased(doc["id"]) == ["10.40.0.2", "10.40.1.2", "10.40.1.9"]
    cluster.leave(doc["id"], "h1")
    assert cluster.leased(doc["id"]) == ["10.40.1.2", "10.40.1.9"]   # h1's went with it
    assert cluster.networks.find_network("cnet") is not None
    cluster.leave(doc["id"], "h2")
    cluster.leave(doc["id"], "h2")                       # already gone: fine
    assert [kv.key for kv in cluster.kv.range("/fabric/")[0]] == ["/fabric/peers/h2"]


def test_changes_name_the_networks_whose_members_changed(cluster):
    doc = network(cluster)
    rev = cluster.revision()
    cluster.join(doc["id"], "h1", subnet="10.40.0.0/16", host_prefix=24)
    cluster.lease(doc["id"], "10.40.0.2", {"host": "h1"})
    events, rev = cluster.changes(rev, 0)
    assert networks_touched(events) == {doc["id"]}
    cluster.lease(doc["id"], "10.40.0.3", {"host": "h1"})
    assert networks_touched(cluster.changes(rev, 0)[0]) == set()   # addresses: none
    cluster.register("h1", "192.168.18.11")
    assert networks_touched(cluster.changes(rev, 0)[0]) is None    # any may have


def test_two_hosts_allocating_at_the_same_moment_never_get_the_same(store_url):
    """Two processes, each joining as a new host and leasing addresses through the
    network core's SharedAllocator, round after round, both starting together: every
    slice and every address is handed out once."""
    cluster = connect(store_url)
    doc = network(cluster, subnet="10.60.0.0/16")
    rounds = 60
    start = time.time() + 1.0
    procs = [worker("allocate", store_url, doc["id"], name, str(rounds), str(start))
             for name in ("a", "b")]
    got = [r for p in procs for r in finish(p)]
    slices = [r["slice"] for r in got if "slice" in r]
    addresses = [r["address"] for r in got if "address" in r]
    assert len(slices) == 2 * rounds and len(set(slices)) == len(slices)
    assert len(addresses) == 2 * rounds * 3 and len(set(addresses)) == len(addresses)
    assert sorted(cluster.leased(doc["id"])) == sorted(a.split("/")[0] for a in addresses)
    # and they did allocate at the same moment: their slices interleave
    owners = [r["host"][0] for r in sorted((r for r in got if "slice" in r),
                                           key=lambda r: ipaddress.ip_network(r["slice"]))]
    assert sum(a != b for a, b in zip(owners, owners[1:])) > 10, owners


def test_a_host_forgotten_leaves_every_network_and_the_peer_list(cluster):
    one, two = network(cluster, "one", "10.40.0.0/16"), network(cluster, "two", "10.41.0.0/16")
    for doc, subnet in ((one, "10.40.0.0/16"), (two, "10.41.0.0/16")):
        for h in ("h1", "h2"):
            cluster.join(doc["id"], h, subnet=subnet, host_prefix=24)
    cluster.register("h1", "192.168.18.11")
    cluster.register("h2", "192.168.18.12")
    cluster.forget("h2")
    assert [p["host"] for p in cluster.peers()] == ["h1"]
    assert [m.host for m in cluster.members(one["id"])] == ["h1"]
    assert [m.host for m in cluster.members(two["id"])] == ["h1"]
