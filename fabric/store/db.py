"""The per-host SQLite store: schema migrations and safe concurrent access.

WAL lets readers run beside the one writer; a busy timeout makes concurrent writers
(two daemons racing at start, a CLI exit hook) wait instead of failing. A connection
serves one thread at a time: a thread leases one on first use and gives it back to a
small pool when it ends, because the daemon starts a thread per request and opening a
connection (with its pragmas, which wait behind a writer) cost about 3 ms per container
run.
"""

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MIGRATIONS: list[str] = [
    # 1: containers, images, volumes
    """
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE image_tags (
        ref TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE TABLE layers (
        diff_id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0,
        doc TEXT NOT NULL
    );
    """,
    # 2: networks, endpoints and firewall intent (used by the network core)
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,
        created REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        id TEXT PRIMARY KEY,
        network_id TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (network_id, container_id)
    );
    CREATE TABLE firewall_rules (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
]


POOL_SIZE = 8


class _Lease:
    """A thread's connection; back to the pool when the thread (and its locals) end."""

    def __init__(self, conn: sqlite3.Connection, pool: list, lock: threading.Lock):
        # the cap is kept here: at interpreter exit module globals may already be gone
        self.conn, self._pool, self._lock, self._cap = conn, pool, lock, POOL_SIZE

    def __del__(self) -> None:
        with self._lock:
            if len(self._pool) < self._cap:
                self._pool.append(self.conn)
                return
        self.conn.close()


class Store:
    def __init__(self, path: str):
        self.path = path
        # SQLite creates the -wal and -shm files with the database's own mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._local = threading.local()
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self.migrate()

    def conn(self) -> sqlite3.Connection:
        lease = getattr(self._local, "lease", None)
        if lease is None:
            with self._idle_lock:
                c = self._idle.pop() if self._idle else None
            lease = self._local.lease = _Lease(c or self._connect(), self._idle,
                                               self._idle_lock)
        return lease.conn

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: a pooled connection moves between threads, one at a time
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                            check_same_thread=False)
        c.row_factory = sqlite3.Row
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA busy_timeout=30000")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA foreign_keys=ON")
        return c

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; BEGIN IMMEDIATE takes the write lock up front so two
        writers never both read-then-insert the same name."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def migrate(self) -> None:
        with self.tx() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for stmt in script.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version={i}")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self.conn().execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        return self.conn().execute(sql, args).fetchone()

    def kv_get(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM kv WHERE key=?", (key,))
        return json.loads(row["value"]) if row else default

    def kv_set(self, key: str, value: Any) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)",
                      (key, json.dumps(value)))
