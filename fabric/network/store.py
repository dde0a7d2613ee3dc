"""Networks and endpoints in the host's store (the `networks` and `endpoints` tables).

A network's document keeps its intent (driver options, IPAM, flags), not the driver's
parsed config, so a reconcile re-validates and re-plans from what the user asked for.
An endpoint's address is chosen and inserted in one write transaction, so two
containers starting at once can never get the same address.
"""

import json
import sqlite3
from collections.abc import Callable

from fabric.errors import Conflict, NotFound
from fabric.network import ipam
from fabric.network.model import SubnetConfig
from fabric.store.db import Store


def _doc(row: sqlite3.Row) -> dict:
    return json.loads(row["doc"])


def subnets_of(doc: dict) -> tuple[SubnetConfig, ...]:
    return tuple(SubnetConfig(s["subnet"], s["gateway"], s.get("ip_range"))
                 for s in doc.get("ipam", ()))


class NetworkStore:
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
        doc = self.find_network(ref)
        if doc is None:
            raise NotFound(f"network {ref} not found")
        return doc

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

    def subnets_in_use(self) -> list[ipam.InUse]:
        return [ipam.InUse(s.subnet, f"network {d['name']}")
                for d in self.list_networks() for s in subnets_of(d)]

    # --- endpoints -------------------------------------------------------------------

    def create_endpoint(self, net: dict, container_id: str, requested_ip: str | None,
                        make_doc: Callable[[str], dict]) -> dict:
        """Allocate an address on `net` and insert the endpoint `make_doc(address)`
        builds, atomically. Conflict when the container is already on the network or
        the requested address is taken."""
        subnets = subnets_of(net)
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM endpoints WHERE network_id=? AND container_id=?",
                         (net["id"], container_id)).fetchone():
                raise Conflict(f"container {container_id[:12]} is already connected to "
                               f"network {net['name']}")
            used = [_doc(r)["address"] for r in
                    c.execute("SELECT doc FROM endpoints WHERE network_id=?", (net["id"],))]
            if not subnets:
                address = ""    # a network without IPAM (e.g. a driver's own)
            else:
                address = ipam.allocate(subnets[0], used, requested_ip,
                                        network_name=net["name"])
            doc = make_doc(address)
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
