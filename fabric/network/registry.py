"""The endpoint registry: which container address and MAC sits behind which host and VTEP.

Docker's overlay driver keeps a peer table fed by its cluster store and turns it into
permanent neighbour and FDB entries (libnetwork `drivers/overlay/peerdb.go`); fabric
does the same with the cluster store as the one truth and each host's kernel made to
match it. The registry is the lease of each address on a global network: one key per
endpoint, so the address and who holds it can never disagree,

    /fabric/leases/<network id>/<address>
        {"host", "container", "endpoint", "name", "aliases", "address", "mac",
         "vtep": {"address", "mac"}, "since"}

written by the host whose container takes the address, in the same transaction that
leases it (allocator.SharedAllocator: the endpoint joins), deleted when it releases it
(the endpoint leaves) or leaves the network. `vtep` is the tunnel end the container
sits behind: its host's underlay address and tunnel device's MAC.

Each member host keeps what it programmed for other hosts' endpoints in its own row of
the network, `shared.remote` (the programmed state: the entry, the store key and
revision it came from, and since when), which remotes.py compares with the registry.
This module is pure: the records, and the conversions between them.
"""

import dataclasses
import time

from fabric.network.model import RemoteEndpoint

# an entry's own fields, compared to tell a changed one; `since` is when it was written
FIELDS = ("host", "container", "endpoint", "name", "aliases", "address", "mac", "vtep")


def entry(host: str, rec: dict, vtep: str | None, vtep_mac: str | None) -> dict:
    """The registry entry of this host's endpoint record `rec`."""
    return {"host": host, "container": rec["container_id"], "endpoint": rec["id"],
            "name": rec.get("container_name") or rec["container_id"][:12],
            "aliases": list(rec.get("aliases") or ()), "address": rec["address"],
            "mac": rec.get("mac") or "", "vtep": {"address": vtep, "mac": vtep_mac},
            "since": time.time()}


def same(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in FIELDS)


def remote(value: dict) -> RemoteEndpoint | None:
    """An entry as drivers see it; None for a bare lease (an address taken by a host
    that published nothing behind it, or by one reached without a tunnel)."""
    vtep = value.get("vtep") or {}
    if not value.get("endpoint") or not value.get("mac") or not vtep.get("address"):
        return None
    return RemoteEndpoint(id=value["endpoint"], host=value["host"],
                          container=value["container"], name=value.get("name") or "",
                          address=value["address"], mac=value["mac"],
                          vtep=vtep["address"], vtep_mac=vtep.get("mac"),
                          aliases=tuple(value.get("aliases") or ()))


# --- the programmed state (a network row's `shared.remote`) ----------------------------

def programmed_record(r: RemoteEndpoint, key: str, revision: int, since: float) -> dict:
    return {**dataclasses.asdict(r), "key": key, "revision": revision, "since": since}


def as_remote(rec: dict) -> RemoteEndpoint:
    fields = {f.name for f in dataclasses.fields(RemoteEndpoint)}
    out = {k: v for k, v in rec.items() if k in fields}
    out["aliases"] = tuple(out.get("aliases") or ())
    return RemoteEndpoint(**out)


def programmed_records(doc: dict) -> list[dict]:
    return list((doc.get("shared") or {}).get("remote") or ())


def programmed(doc: dict) -> list[RemoteEndpoint]:
    """The other hosts' endpoints this host has programmed for network `doc`."""
    return [as_remote(r) for r in programmed_records(doc)]
