"""Networks and endpoints in the host's store (the `networks` and `endpoints` tables).

A network's document keeps its intent (driver options, IPAM, flags), not the driver's
parsed config, so a reconcile re-validates and re-plans from what the user asked for.
An endpoint's document is everything the network core knows of that container on that
network: its names, its `--link`s, its exposed and published ports, so the firewall,
/etc/hosts lines and link variables come from here and never from container
documents. An endpoint's address is chosen and inserted in one write transaction, so
two containers starting at once can never get the same address.
"""

import json
import sqlite3
from collections.abc import Callable
from typing import Protocol

from fabric.errors import Conflict, NotFound
from fabric.network import ipam
from fabric.network.model import SubnetConfig
from fabric.store.db import Store


def _doc(row: sqlite3.Row) -> dict:
    return json.loads(row["doc"])


def subnets_of(doc: dict) -> tuple[SubnetConfig, ...]:
    return tuple(SubnetConfig(s["subnet"], s["gateway"], s.get("ip_range"))
                 for s in doc.get("ipam", ()))


def found(doc: dict | None, ref: str) -> dict:
    """The network `ref` named, or NotFound."""
    if doc is None:
        raise NotFound(f"network {ref} not found")
    return doc


class NetworkRecords(Protocol):
    """Where network records live: this host's store (NetworkStore), or for a global
    network the cluster store (context.ClusterStore.networks)."""

    def insert_network(self, doc: dict) -> None: ...

    def update_network(self, doc: dict) -> None: ...

    def find_network(self, ref: str) -> dict | None: ...

    def list_networks(self) -> list[dict]: ...

    def delete_network(self, network_id: str) -> None: ...


class NetworkStore:
    """This host's networks (NetworkRecords) and its endpoints."""

    def __init__(self, store: Store):
        self.store = store

    # --- networks --------------------------------------------------------------------

    def insert_network(self, doc: dict) -> None:
        """Insert a network, refusing a taken name or a subnet overlapping another
        network's, checked in the same transaction as the insert."""
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM networks WHERE name=?", (doc["name"],)).fetchone():
                raise Conflict(f"network with name {doc['name']} already exists")
            mine = subnets_of(doc)
            for row in c.execute("SELECT doc FROM networks"):
                other = _doc(row)
                for s in subnets_of(other):
                    for m in mine:
                        if ipam.overlaps(ipam.parse_subnet(m.subnet),
                                         ipam.parse_subnet(s.subnet)):
                            raise Conflict(f"subnet {m.subnet} overlaps with network "
                                           f"{other['name']} ({s.subnet})")
            c.execute("INSERT INTO networks(id, name, driver, created, doc) "
                      "VALUES (?, ?, ?, ?, ?)",
                      (doc["id"], doc["name"], doc["driver"], doc["created"],
                       json.dumps(doc)))

    def update_network(self, doc: dict) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE networks SET doc=? WHERE id=?", (json.dumps(doc), doc["id"]))

    def find_network(self, ref: str) -> dict | None:
        """By id, name or unique id prefix (Docker's order)."""
        row = self.store.one("SELECT doc FROM networks WHERE id=?", (ref,)) or \
            self.store.one("SELECT doc FROM networks WHERE name=?", (ref,))
        if row:
            return _doc(row)
        if len(ref) >= 1 and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.store.query("SELECT doc FROM networks WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise Conflict(f"network {ref} is ambiguous ({len(rows)} matches)")
            if rows:
                return _doc(rows[0])
        return None

    def get_network(self, ref: str) -> dict:
        return found(self.find_network(ref), ref)

    def list_networks(self) -> list[dict]:
        return [_doc(r) for r in self.store.query("SELECT doc FROM networks ORDER BY created")]

    def delete_network(self, network_id: str) -> None:
        """Remove a network's row; refused while endpoints remain."""
        with self.store.tx() as c:
            rows = c.execute("SELECT doc FROM endpoints WHERE network_id=?",
                             (network_id,)).fetchall()
            if rows:
                names = ", ".join(sorted(_doc(r).get("container_name") or
                                         _doc(r)["container_id"][:12] for r in rows))
                row = c.execute("SELECT name FROM networks WHERE id=?",
                                (network_id,)).fetchone()
                raise Conflict(f"network {row['name'] if row else network_id} has "
                               f"active endpoints ({names})")
            c.execute("DELETE FROM networks WHERE id=?", (network_id,))

    # --- endpoints -------------------------------------------------------------------

    def create_endpoint(self, net: dict, container_id: str, choose: Callable[[list[str]], str],
                        make_doc: Callable[[str], dict]) -> dict:
        """Insert the endpoint `make_doc(address)` builds on `net`, the address being
        `choose(addresses of the network's endpoints)`, both in one write transaction.
        Conflict when the container is already on the network (or `choose` says the
        address is taken)."""
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM endpoints WHERE network_id=? AND container_id=?",
                         (net["id"], container_id)).fetchone():
                raise Conflict(f"container {container_id[:12]} is already connected to "
                               f"network {net['name']}")
            used = [_doc(r)["address"] for r in
                    c.execute("SELECT doc FROM endpoints WHERE network_id=?", (net["id"],))]
            doc = make_doc(choose(used))
            c.execute("INSERT INTO endpoints(id, network_id, container_id, doc) "
                      "VALUES (?, ?, ?, ?)",
                      (doc["id"], net["id"], container_id, json.dumps(doc)))
        return doc

    def update_endpoint(self, doc: dict) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE endpoints SET doc=? WHERE id=?", (json.dumps(doc), doc["id"]))

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM endpoints WHERE id=?", (endpoint_id,))

    def endpoints(self, network_id: str | None = None,
                  container_id: str | None = None) -> list[dict]:
        sql, args = "SELECT doc FROM endpoints WHERE 1=1", []
        if network_id is not None:
            sql += " AND network_id=?"
            args.append(network_id)
        if container_id is not None:
            sql += " AND container_id=?"
            args.append(container_id)
        return [_doc(r) for r in self.store.query(sql + " ORDER BY rowid", tuple(args))]
