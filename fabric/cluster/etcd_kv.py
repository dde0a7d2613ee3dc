"""The etcd v3 backend of kv.KV: `etcd://ADDR:PORT[,ADDR:PORT...]`, for hosts on
several machines.

kv.py is etcd's own model, so most of this is translation: a range is etcd's Range
with range_end, a transaction its Txn, a prefix compare a compare with range_end
(etcd holds it for every key in the range and compares an empty range as one absent
key, as kv.holds does), `changes` its Watch from `after + 1` (etcd_stream.py).

The client is etcd3gw (OpenStack's, maintained) over etcd's gRPC gateway: JSON over
HTTP on the client port, which Debian's etcd 3.4 serves at /v3/. It gives the HTTP
session, the API path for the server's version, TLS options and errors by status.
`etcd3` (gRPC) was the other candidate: last released in 2020, it needs an old
protobuf and brings grpcio into the daemon. What etcd3gw lacks is written here, from
etcd's rpc.proto: the revision in a Range's header (its get() drops it), compares on
a range, compaction, failover and the watch stream. Only connect.py imports this
module, and only for an etcd:// URL, so the CLI never loads etcd3gw (nor requests).

Failover: calls go to the endpoint that answered last; one that cannot be reached
passes the call to the next. A read may be retried anywhere; a transaction only when
it never reached a server (a connection refused or not made), since one that timed
out after it was sent may have been applied, and a retried lease would then fail
against itself. When none answers: Unavailable, one line naming the store and why.
"""

import json
import threading
from collections.abc import Sequence
from typing import Any

import requests
import urllib3.exceptions
from etcd3gw import exceptions as gw
from etcd3gw.client import Etcd3Client

from fabric.cluster.etcd_stream import Stream, b64, text
from fabric.cluster.kv import Compare, Event, KeyValue, Op, Put, prefix_end
from fabric.errors import FabricError, InvalidArgument, Unavailable

CONNECT = 2.0       # seconds to reach an endpoint before trying the next
ROUNDS = 2          # times through the endpoints: one lost SYN and its retransmission
                    # (a lossy underlay) is not a store that is gone
READ = 10.0         # seconds for an answer (a write waits for raft to commit it)
WAIT_CHECK = 0.25   # changes() waiting less than this first reads the store's revision

_TARGET = {"create": ("CREATE", "create_revision"), "mod": ("MOD", "mod_revision"),
           "version": ("VERSION", "version"), "value": ("VALUE", "value")}
_RESULT = {"=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


class EtcdKV:
    def __init__(self, url: str, endpoints: Sequence[tuple[str, int]]):
        self.url = url
        self._clients = [Etcd3Client(host=h, port=p, timeout=(CONNECT, READ))  # type: ignore[arg-type]
                         for h, p in endpoints]
        self._current = 0
        self._local = threading.local()     # each thread its own watch stream
        self._streams: set[Stream] = set()
        self._lock = threading.Lock()

    # --- calls, with failover ----------------------------------------------------------

    def _call(self, path: str, body: dict, *, retry_sent: bool) -> dict:
        tried: list[str] = []
        for i in self._order():
            client = self._clients[i]
            try:
                out = client.post(client.get_url(path), json=body)
            except (gw.ConnectionFailedError, gw.ConnectionTimeoutError,
                    gw.ApiVersionDiscoveryFailedError) as e:
                tried.append(f"{client.host}:{client.port} {_reason(e)}")
                if retry_sent or _unsent(e):
                    continue
                raise self._unavailable(tried) from e
            except gw.Etcd3Exception as e:
                raise _refused(e) from e
            self._current = i
            return out
        raise self._unavailable(tried)

    def _order(self) -> list[int]:
        n = len(self._clients)
        return [(self._current + k) % n for k in range(n * ROUNDS)]

    def _unavailable(self, tried: list[str]) -> Unavailable:
        said = "; ".join(dict.fromkeys(tried))     # each endpoint's reason once
        return Unavailable(f"cluster store {self.url} is unreachable ({said})")

    # --- reads -----------------------------------------------------------------------

    def _range(self, key: str, end: str | None) -> tuple[list[KeyValue], int]:
        body: dict[str, Any] = {"key": b64(key)}
        if end is not None:
            body["range_end"] = b64(end)
        out = self._call("/kv/range", body, retry_sent=True)
        return [_kv(kv) for kv in out.get("kvs", ())], _revision(out)

    def get(self, key: str) -> KeyValue | None:
        kvs, _ = self._range(key, None)
        return kvs[0] if kvs else None

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        return self._range(prefix, prefix_end(prefix))

    def revision(self) -> int:
        out = self._call("/kv/range", {"key": b64("\0"), "count_only": True},
                         retry_sent=True)
        return _revision(out)

    # --- writes ----------------------------------------------------------------------

    def txn(self, compare: Sequence[Compare], success: Sequence[Op],
            failure: Sequence[Op] = ()) -> tuple[bool, int]:
        body = {"compare": [_compare(c) for c in compare],
                "success": [_op(o) for o in success], "failure": [_op(o) for o in failure]}
        out = self._call("/kv/txn", body, retry_sent=False)
        return bool(out.get("succeeded", False)), _revision(out)

    def compact(self, revision: int) -> None:
        upto = min(revision, self.revision())
        if upto <= 0:
            return
        try:
            self._call("/kv/compaction", {"revision": str(upto)}, retry_sent=True)
        except InvalidArgument as e:
            if "compacted" not in e.message:   # compacted that far already: done
                raise

    # --- watching --------------------------------------------------------------------

    def changes(self, prefix: str, after: int, timeout: float) -> tuple[list[Event], int]:
        s: Stream | None = getattr(self._local, "stream", None)
        if s is None or s.ended or s.prefix != prefix or s.position != after:
            if s is not None:
                self._drop(s)
            s = self._local.stream = self._open(prefix, after)
        try:
            # a short wait asks the store's revision first: what was written before this
            # call is then returned by it, though etcd pushes it a moment later
            return s.take(timeout, self.revision() if timeout < WAIT_CHECK else 0)
        except Unavailable as e:
            raise self._unavailable([e.message]) from e

    def _open(self, prefix: str, after: int) -> Stream:
        tried: list[str] = []
        for i in self._order():
            client = self._clients[i]
            try:
                s = Stream(client.session, client.get_url("/watch"), prefix, after, CONNECT)
            except (requests.RequestException, gw.Etcd3Exception, Unavailable) as e:
                tried.append(f"{client.host}:{client.port} {_reason(e)}")
                continue
            self._current = i
            with self._lock:
                self._streams.add(s)
            return s
        raise self._unavailable(tried)

    def _drop(self, s: Stream) -> None:
        s.close()
        with self._lock:
            self._streams.discard(s)

    def close(self) -> None:
        with self._lock:
            streams, self._streams = self._streams, set()
        for s in streams:
            s.close()
        for c in self._clients:
            c.session.close()


# --- the gateway's JSON, from etcd's rpc.proto -----------------------------------------

def _compare(c: Compare) -> dict:
    target, field = _TARGET[c.target]
    value = b64(str(c.value)) if c.target == "value" else str(c.value)
    out = {"key": b64(c.key), "target": target, "result": _RESULT[c.op], field: value}
    if c.prefix:
        out["range_end"] = b64(prefix_end(c.key))
    return out


def _op(o: Op) -> dict:
    if isinstance(o, Put):
        return {"request_put": {"key": b64(o.key), "value": b64(o.value)}}
    req = {"key": b64(o.key)}
    if o.prefix:
        req["range_end"] = b64(prefix_end(o.key))
    return {"request_delete_range": req}


def _kv(kv: dict) -> KeyValue:
    # proto3 leaves out fields at their zero value: an empty value has no "value"
    return KeyValue(text(kv["key"]), text(kv.get("value", "")),
                    int(kv.get("create_revision", 0)), int(kv.get("mod_revision", 0)),
                    int(kv.get("version", 0)))


def _revision(out: dict) -> int:
    return int(out.get("header", {}).get("revision", 0))


def _refused(e: gw.Etcd3Exception) -> FabricError:
    """etcd answered with an error: its own message, as one line."""
    try:
        message = json.loads(e.detail_text or "")["message"]
    except (ValueError, KeyError, TypeError):
        message = (e.detail_text or str(e)).strip()
    if "duplicate key" in message:
        # etcd's word for a key put or deleted twice in one transaction
        return InvalidArgument("cluster store: a key changed twice in one transaction")
    if "compacted" in message or "future revision" in message:
        return InvalidArgument(f"cluster store: {message}")
    return FabricError(f"cluster store: {message}")


def _unsent(e: BaseException) -> bool:
    """Did the request never reach a server, so that sending it elsewhere cannot apply
    it twice? A refused or timed-out connect; or etcd's own "unavailable" answer."""
    cause = e.__context__
    if cause is None:
        return isinstance(e, gw.ConnectionFailedError)     # HTTP 503: etcd said so
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(cause.args[0], "reason", None) if cause.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _reason(e: BaseException) -> str:
    """A few words on why an endpoint did not answer."""
    cause = e.__context__ or e
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return f"no connection within {CONNECT:g} s"
    if isinstance(cause, requests.exceptions.ReadTimeout):
        return f"no answer within {READ:g} s"
    if "Connection refused" in str(cause):
        return "connection refused"
    if "No route to host" in str(cause):
        return "no route to host"
    return str(cause).splitlines()[0][:120] if str(cause) else type(cause).__name__
