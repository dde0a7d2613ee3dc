"""One etcd watch, read as a stream: `changes()` of the etcd backend (etcd_kv.py).

etcd's Watch is a server stream; its gRPC gateway serves it as one long HTTP response
with one JSON message a line. A stream starts at a revision (the caller's `after + 1`)
and etcd sends every change under the prefix from there on, history first, so a
reader that resumes from the last revision it handed out can never miss a change.

Why not etcd3gw's own Watcher: it hands events to a callback one at a time, so a
reader could stop in the middle of a revision's events; it skips the message that
cancels a watch whose start is compacted (the watch then simply goes silent); and
its request has no timeout, so a dead connection is never noticed. Here each
message is kept whole (etcd never splits a revision across messages unless asked to
fragment), a compacted start raises kv.Compacted, and a read timeout of IDLE seconds
ends a silent stream, which the backend reopens from the same revision.

Reading happens on a thread of the stream's own, into a queue, so `take` can wait
with a timeout of its choosing while the HTTP read blocks.
"""

import base64
import json
import queue
import socket
import threading
import time

import requests

from fabric.cluster.kv import Compacted, Event, prefix_end
from fabric.errors import Unavailable

IDLE = 15.0     # seconds without a message before a stream is reopened
# etcd hands a new watcher its history from a loop that runs every 100 ms, and may
# hand it over in more than one message: a stream opened behind the store's revision
# waits up to HISTORY for the first of it, and GRACE for more while it has not reached
# the revision the store had when the stream was made
HISTORY = 1.0
GRACE = 0.25


class _End:
    """The reader's last word: why the stream ended (None: the server closed it)."""

    def __init__(self, error: BaseException | None):
        self.error = error


class Stream:
    def __init__(self, session: requests.Session, url: str, prefix: str, after: int,
                 connect_timeout: float):
        self.prefix = prefix
        self.position = after       # every change up to here has been handed out
        self.ended = False
        self._behind: bool | None = None    # opened behind the store (known once created)
        self._target = 0                    # the store's revision then
        self._q: queue.Queue = queue.Queue()
        body = {"create_request": {"key": b64(prefix), "range_end": b64(prefix_end(prefix)),
                                   "start_revision": str(after + 1)}}
        self._resp = session.post(url, json=body, stream=True,
                                  timeout=(connect_timeout, IDLE))
        if self._resp.status_code != 200:
            text = self._resp.text.strip()
            self._resp.close()
            raise Unavailable(f"watch refused: HTTP {self._resp.status_code} {text}")
        threading.Thread(target=self._read, name="etcd-watch", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self._resp.iter_lines():
                if line:
                    self._q.put(json.loads(line))
            self._q.put(_End(None))
        except Exception as e:  # noqa: BLE001 - handed to the reader of the queue
            self._q.put(_End(e))

    def take(self, timeout: float, store: int = 0) -> tuple[list[Event], int]:
        """The next changes, waiting up to `timeout` for the first (longer while the
        history a new stream starts with may still be coming), and the revision the
        caller has seen everything up to."""
        start = time.monotonic()
        deadline = start + timeout
        if self._behind is None:
            # not created yet: its first message says whether history is on its way
            deadline = max(deadline, start + HISTORY)
        elif store > self.position:
            # the caller knows of writes not yet seen here (pushed, but still on the way)
            self._target = store
            deadline = max(deadline, start + HISTORY)
        events: list[Event] = []
        while not self.ended:
            try:
                msg = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(msg, _End):
                self.ended = True
                if events or isinstance(msg.error, requests.exceptions.ReadTimeout):
                    break   # silent for IDLE seconds: reopened at the next call
                why = str(msg.error).splitlines()[0][:120] if msg.error else "by the server"
                raise Unavailable(f"watch stream closed: {why}")
            result = msg.get("result") or {}
            if "error" in msg:
                self.ended = True
                raise Unavailable(f"watch: {msg['error'].get('message', msg['error'])}")
            if result.get("canceled"):
                self.ended = True
                if int(result.get("compact_revision", 0)):
                    raise Compacted(f"revision {self.position} is compacted (etcd keeps "
                                    f"from {result['compact_revision']})")
                raise Unavailable(f"watch cancelled: "
                                  f"{result.get('cancel_reason') or 'no reason given'}")
            if result.get("created"):
                store = int(result.get("header", {}).get("revision", 0))
                self._behind = store > self.position
                self._target = store if self._behind else 0
                deadline = max(start + timeout, time.monotonic() + HISTORY) \
                    if self._behind else start + timeout
                continue
            got = [_event(e) for e in result.get("events", ())]
            if got:
                events += got
                now = time.monotonic()
                if got[-1].revision < self._target:     # more history may follow
                    deadline = max(start + timeout, now + GRACE)
                else:
                    self._target = 0
                    deadline = now      # take what is queued already, no more
        if events:
            self.position = events[-1].revision
        return events, self.position

    def close(self) -> None:
        """End the stream; its reader thread, blocked in a read, wakes and exits."""
        self.ended = True
        try:
            # shut the socket down: close() alone would not wake a blocked recv
            conn = self._resp.raw.connection
            sock = conn.sock if conn is not None else None
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):   # gone already, or another urllib3's shape:
            pass                            # the reader then ends at its IDLE timeout
        self._resp.close()


def _event(e: dict) -> Event:
    kv = e["kv"]
    delete = e.get("type") == "DELETE"
    return Event("delete" if delete else "put", text(kv["key"]),
                 None if delete else text(kv.get("value", "")), int(kv["mod_revision"]))


def b64(s: str) -> str:
    """Keys and values travel base64-encoded through the gateway (bytes in rpc.proto)."""
    return base64.b64encode(s.encode()).decode()


def text(encoded: str) -> str:
    return base64.b64decode(encoded).decode()
