"""A host's Open vSwitch database, through ovsdbapp: OVSDB's own protocol, the IDL
replica kept by ovsdbapp's connection thread, and commands that are values until a
transaction runs them (`may_exist`, `if_exists`), never `ovs-vsctl` and its output.

Transactions on the Open_vSwitch schema bump `next_cfg` and wait until ovs-vswitchd
has caught up (`cur_cfg`), as `ovs-vsctl` does without `--no-wait`: when one returns,
a bridge's internal port exists in the kernel and the next plan step can address it.

What fabric made is marked in `external_ids`, the column OVS keeps for its users:
`fabric-network` (the network's id) and `fabric-vni` on bridges and ports, `fabric-endpoint` on a
container's port, `fabric-peer` on a tunnel port, `fabric-underlay` on the underlay
bridge. Teardown removes only rows carrying fabric's marks (`owned`).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from fabric.errors import FabricError

NETWORK = "fabric-network"
ENDPOINT = "fabric-endpoint"
PEER = "fabric-peer"
UNDERLAY = "fabric-underlay"
VNI = "fabric-vni"
TIMEOUT = 10

Ids = tuple[tuple[str, str], ...]


def owned(row: Mapping[str, Any] | None, ids: Ids) -> bool:
    """Does this row (as db_list gives it) carry every one of fabric's marks `ids`?"""
    if row is None or not ids:
        return False
    ext = row.get("external_ids") or {}
    return all(ext.get(k) == v for k, v in ids)


class Ovsdb:
    """One connection to one host's database; `close()` when done."""

    def __init__(self, remote: str, timeout: int = TIMEOUT):
        from ovsdbapp.backend.ovs_idl import connection
        from ovsdbapp.schema.open_vswitch import impl_idl
        try:
            idl = connection.OvsdbIdl.from_server(remote, "Open_vSwitch")
            self._conn = connection.Connection(idl=idl, timeout=timeout)
            # ovsdbapp keeps the connection on the API's class: a class of our own per
            # connection, so two hosts' databases in one process never share one
            cls = type("HostOvsdb", (impl_idl.OvsdbIdl,), {"_ovsdb_connection": None})
            self.api: Any = cls(self._conn, start=True)
        except Exception as e:  # noqa: BLE001 - ovsdbapp raises its own and ovs's
            raise FabricError(f"cannot reach Open vSwitch at {remote}: {e}") from e

    def close(self) -> None:
        self._conn.stop(timeout=TIMEOUT)
        # stop() leaves the IDL's session open: its socket would wait for the collector
        self._conn.idl.close()
        # and its queue's wake-up pipe, which only the collector would close
        self._conn.txns._wait_queue.close()

    def transact(self, commands: Iterable[Any]) -> None:
        cmds = list(commands)
        if not cmds:
            return
        try:
            with self.api.transaction(check_error=True) as txn:
                for c in cmds:
                    txn.add(c)
        except FabricError:
            raise
        except Exception as e:  # noqa: BLE001
            raise FabricError(f"OVSDB transaction failed: {e}") from e

    # --- reading ------------------------------------------------------------------------

    def row(self, table: str, name: str) -> dict | None:
        """The row named `name` (columns by name), None when there is none."""
        rows = self.api.db_list(table, [name], if_exists=True).execute(check_error=True)
        return rows[0] if rows else None

    def rows(self, table: str) -> list[dict]:
        return self.api.db_list(table).execute(check_error=True)

    def bridge_of(self, port: str) -> str | None:
        """The bridge holding port `port`."""
        for br in self.rows("Bridge"):
            names = {p["name"] for p in self._ports(br["ports"])}
            if port in names:
                return br["name"]
        return None

    def _ports(self, uuids) -> list[dict]:
        return [r for r in self.api.db_list("Port", list(uuids), if_exists=True)
                .execute(check_error=True)] if uuids else []

    def bridges_marked(self, key: str) -> list[dict]:
        return [b for b in self.rows("Bridge") if key in (b.get("external_ids") or {})]
