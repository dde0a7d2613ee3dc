"""The embedded backend: the KV of kv.py in one SQLite file the hosts of a machine share.

Every host's daemon opens the same file (a lab's `cluster.db`). WAL lets readers run
beside the one writer, and a busy timeout makes writers from several daemons queue
rather than fail. A transaction is one `BEGIN IMMEDIATE ... COMMIT`: its compares are
read under the write lock, so two hosts can never both see a key absent and both
create it. Each write also appends to `log`, the history `changes()` reads.

Watching: a watcher first reads the revision, then waits until it moves. Waiting is
inotify on the database's directory (inotify.py) for a doorbell file, `<db>-rev`,
which every writing transaction opens for writing and closes right after its COMMIT
returns. Not the WAL itself: a WAL write is reported before the commit is visible to
readers (the wal-index in the -shm file is updated after it, through mmap, which
inotify does not see), so a watcher woken by it could read the old revision and then
sleep through the commit. The doorbell rings only once the change can be read. A
re-read every BACKSTOP seconds covers a lost wake-up; without inotify it polls every
FALLBACK_POLL seconds. A revision check is one indexed read, about 10 µs; a put in
one process is seen by a watcher in another within a few milliseconds
(tests/cluster/test_store.py measures it).
"""

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Sequence

from fabric.cluster import inotify
from fabric.cluster.kv import (
    Compacted,
    Compare,
    Event,
    KeyValue,
    Op,
    Put,
    holds,
    prefix_end,
)
from fabric.errors import InvalidArgument

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (revision, key)
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0), ('compacted', 0);
"""

KEEP = 10_000           # revisions of history kept for watchers that fell behind
COMPACT_EVERY = 1_000
BACKSTOP = 1.0          # seconds between re-reads when no wake-up came
FALLBACK_POLL = 0.05    # without inotify


def _wal(c: sqlite3.Connection) -> None:
    """Switch a new file to WAL. Switching needs the file to itself and SQLite answers
    "database is locked" at once, busy timeout or not, when several daemons open a new
    store side by side; once the file is in WAL mode this is a no-op."""
    for attempt in range(200):
        try:
            c.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 199:
                raise
            time.sleep(0.01 + random.random() * 0.02)


class SqliteKV:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._local = threading.local()
        self.doorbell = self.path + "-rev"
        self._names = frozenset({os.path.basename(self.doorbell)})
        with self._write() as c:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)

    # --- connections ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                check_same_thread=False)
            _wal(c)
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def _write(self):
        return _Tx(self._conn(), "BEGIN IMMEDIATE")

    def _read(self):
        # one snapshot for the statements inside, so a revision and what it covers agree
        return _Tx(self._conn(), "BEGIN")

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
        w = getattr(self._local, "watch", None)
        if w is not None:
            w.close()
            self._local.watch = None

    # --- reads -----------------------------------------------------------------------------

    def revision(self) -> int:
        return _meta(self._conn(), "revision")

    def get(self, key: str) -> KeyValue | None:
        row = self._conn().execute(
            "SELECT key, value, create_revision, mod_revision, version FROM kv WHERE key=?",
            (key,)).fetchone()
        return KeyValue(*row) if row else None

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        with self._read() as c:
            return _range(c, prefix), _meta(c, "revision")

    # --- transactions ------------------------------------------------------------------------

    def txn(self, compare: Sequence[Compare], success: Sequence[Op],
            failure: Sequence[Op] = ()) -> tuple[bool, int]:
        with self._write() as c:
            ok = all(_check(c, cmp) for cmp in compare)
            ops = success if ok else failure
            rev = _meta(c, "revision")
            if _apply(c, ops, rev + 1):
                rev += 1
                c.execute("UPDATE meta SET value=? WHERE name='revision'", (rev,))
                if rev % COMPACT_EVERY == 0:
                    _compact(c, rev - KEEP)
                wrote = True
            else:
                wrote = False
        if wrote:
            self._ring()
        return ok, rev

    def _ring(self) -> None:
        """Wake the watchers: IN_CLOSE_WRITE on the doorbell, after the commit."""
        try:
            with open(self.doorbell, "ab"):
                pass
        except OSError as e:   # watchers still see the change at their next re-read
            log.warning("cluster store %s: %s", self.doorbell, e)

    def compact(self, revision: int) -> None:
        with self._write() as c:
            _compact(c, min(revision, _meta(c, "revision")))

    # --- watching ----------------------------------------------------------------------------

    def changes(self, prefix: str, after: int, timeout: float) -> tuple[list[Event], int]:
        waiter = self._waiter()   # made before the first read, so no commit slips by
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            with self._read() as c:
                if after < _meta(c, "compacted"):
                    raise Compacted(f"revision {after} is compacted")
                rev = _meta(c, "revision")
                if rev > seen:
                    rows = c.execute(
                        "SELECT type, key, value, revision FROM log WHERE revision > ? AND "
                        "revision <= ? AND key >= ? AND key < ? ORDER BY revision, key",
                        (seen, rev, prefix, prefix_end(prefix))).fetchall()
                    seen = rev
                    if rows:
                        return [Event(*r) for r in rows], seen
            left = deadline - time.monotonic()
            if left <= 0:
                return [], seen
            if waiter is None:
                time.sleep(min(left, FALLBACK_POLL))
            else:
                waiter.wait(min(left, BACKSTOP))

    def _waiter(self) -> inotify.DirWatch | None:
        w = getattr(self._local, "watch", None)
        if w is None and not getattr(self._local, "no_inotify", False):
            try:
                w = self._local.watch = inotify.DirWatch(os.path.dirname(self.path),
                                                         self._names)
            except OSError as e:
                log.warning("cluster store %s: no inotify (%s); polling", self.path, e)
                self._local.no_inotify = True
        return w


class _Tx:
    def __init__(self, conn: sqlite3.Connection, begin: str):
        self.conn, self.begin = conn, begin

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute(self.begin)
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _meta(c: sqlite3.Connection, name: str) -> int:
    return c.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()[0]


def _range(c: sqlite3.Connection, prefix: str) -> list[KeyValue]:
    rows = c.execute("SELECT key, value, create_revision, mod_revision, version FROM kv "
                     "WHERE key >= ? AND key < ? ORDER BY key",
                     (prefix, prefix_end(prefix))).fetchall()
    return [KeyValue(*r) for r in rows]


def _check(c: sqlite3.Connection, cmp: Compare) -> bool:
    if cmp.prefix:
        kvs = _range(c, cmp.key)
        return all(holds(kv, cmp) for kv in kvs) if kvs else holds(None, cmp)
    row = c.execute("SELECT key, value, create_revision, mod_revision, version FROM kv "
                    "WHERE key=?", (cmp.key,)).fetchone()
    return holds(KeyValue(*row) if row else None, cmp)


def _apply(c: sqlite3.Connection, ops: Sequence[Op], rev: int) -> bool:
    """Apply the operations at revision `rev`; whether anything changed."""
    touched: set[str] = set()
    for op in ops:
        if isinstance(op, Put):
            keys = [op.key]
        else:
            keys = [kv.key for kv in _range(c, op.key)] if op.prefix else \
                [r[0] for r in c.execute("SELECT key FROM kv WHERE key=?", (op.key,))]
        if touched & set(keys):
            # as etcd: one transaction changes a key at most once
            raise InvalidArgument(f"cluster store: key {sorted(touched & set(keys))[0]} "
                                  "changed twice in one transaction")
        touched.update(keys)
        if isinstance(op, Put):
            c.execute("INSERT INTO kv(key, value, create_revision, mod_revision, version) "
                      "VALUES (?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET "
                      "value=excluded.value, mod_revision=excluded.mod_revision, "
                      "version=version+1", (op.key, op.value, rev, rev))
            c.execute("INSERT INTO log(revision, key, type, value) VALUES (?, ?, 'put', ?)",
                      (rev, op.key, op.value))
        else:
            for key in keys:
                c.execute("DELETE FROM kv WHERE key=?", (key,))
                c.execute("INSERT INTO log(revision, key, type, value) "
                          "VALUES (?, ?, 'delete', NULL)", (rev, key))
    return bool(touched)


def _compact(c: sqlite3.Connection, upto: int) -> None:
    if upto > _meta(c, "compacted"):
        c.execute("DELETE FROM log WHERE revision <= ?", (upto,))
        c.execute("UPDATE meta SET value=? WHERE name='compacted'", (upto,))
