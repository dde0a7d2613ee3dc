"""The key-value store under the cluster store, shaped like etcd v3 so etcd is a drop-in.

etcd's data model, reduced to what fabric uses:

- keys are strings ("/fabric/slices/<network>/<host>"), values JSON text;
- one store-wide revision counter, raised by every transaction that writes; each key
  keeps the revision it was created at, last modified at, and how often it changed;
- a transaction is "if every compare holds, do these, else do those", atomically
  (etcd's Txn); a compare on a prefix holds when it holds for every key under it, and
  an absent key compares as revision 0 (etcd's range compares);
- `changes(prefix, after)` returns every put and delete under a prefix since revision
  `after`, in revision order, waiting for the first one (etcd's Watch from
  start_revision = after + 1). A watcher that remembers the revision it reached can
  never miss a change, whatever happens between two calls. History is compacted
  eventually; asking for changes older than that raises Compacted, and the watcher
  re-reads everything (as an etcd client does on ErrCompacted).

Allocation on top of this is optimistic, as flannel does on etcd: read a prefix at
revision R, choose, and write in a transaction that holds only if nothing under the
prefix changed since R (or only if the chosen key does not exist yet); when it does
not hold, read again. One write transaction decides, so two hosts allocating at the
same moment can never both win.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from fabric.errors import FabricError

Target = Literal["create", "mod", "version", "value"]
CompareOp = Literal["=", "!=", "<", ">"]


class Compacted(FabricError):
    """The changes asked for are older than the history the store keeps."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int


@dataclass(frozen=True)
class Event:
    type: Literal["put", "delete"]
    key: str
    value: str | None           # None for a delete
    revision: int


@dataclass(frozen=True)
class Compare:
    key: str
    target: Target
    op: CompareOp
    value: int | str
    prefix: bool = False        # every key under `key` (an absent one compares as 0)


@dataclass(frozen=True)
class Put:
    key: str
    value: str


@dataclass(frozen=True)
class Delete:
    key: str
    prefix: bool = False        # every key under `key`


Op = Put | Delete


class KV(Protocol):
    def get(self, key: str) -> KeyValue | None: ...

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, sorted, and the revision they were read at."""

    def txn(self, compare: Sequence[Compare], success: Sequence[Op],
            failure: Sequence[Op] = ()) -> tuple[bool, int]:
        """(whether the compares held, the store's revision after the transaction)."""

    def changes(self, prefix: str, after: int, timeout: float) -> tuple[list[Event], int]:
        """Puts and deletes under `prefix` with revisions after `after`, waiting up to
        `timeout` seconds for the first; and the revision the caller has now seen
        everything up to (pass it as `after` next time). Compacted when `after` is
        older than the history kept."""

    def revision(self) -> int: ...

    def compact(self, revision: int) -> None:
        """Forget the history up to `revision` (etcd's Compact); the embedded backend
        also compacts by itself, keeping the last 10,000 revisions."""

    def close(self) -> None: ...


def prefix_end(prefix: str) -> str:
    """The first key after every key starting with `prefix` (etcd's range_end)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def holds(kv: KeyValue | None, c: Compare) -> bool:
    """Does one key (None: absent) satisfy the compare? As etcd: an absent key has
    revisions and version 0, and fails every compare on its value."""
    if kv is None:
        if c.target == "value":
            return False
        have: int | str = 0
    else:
        fields: dict[str, int | str] = {"create": kv.create_revision, "mod": kv.mod_revision,
                                        "version": kv.version, "value": kv.value}
        have = fields[c.target]
    want = c.value
    if c.op == "=":
        return have == want
    if c.op == "!=":
        return have != want
    if type(have) is not type(want):
        return False
    return have < want if c.op == "<" else have > want  # type: ignore[operator]
