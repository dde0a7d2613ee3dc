"""A host's side of a trace, run by its daemon: every namespace it owns armed (its
own and its running containers'), and on `finish` the passes the probe made through
them, with nothing left behind.

A session that is never finished (its caller died) ends by itself after its time
runs out; and the trace tables are owned by the sockets that made them, so even a
daemon killed meanwhile leaves none (arming.py).
"""

import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fabric.errors import FabricError, InvalidArgument, NotFound
from fabric.firewall.intent_words import IntentWords
from fabric.trace import conntrack, ruleset
from fabric.trace.arming import Armed
from fabric.trace.lookups import Kernel
from fabric.trace.match import Match
from fabric.trace.model import Pass
from fabric.trace.ovs import Ovs
from fabric.trace.passes import Builder
from fabric.trace.walks import stops

MAX_SECONDS = 30.0
DEFAULT_SECONDS = 10.0
HOST = "host"


@dataclass(frozen=True)
class Spec:
    """What the caller asks for: the probe's identity, what to call this host, and
    names it knows for addresses (other hosts' containers, hosts' underlays)."""
    match: Match
    host: str
    names: dict[str, str]
    subnets: dict[str, str] = field(default_factory=dict)   # address -> its subnet
    seconds: float = DEFAULT_SECONDS

    @classmethod
    def of(cls, doc) -> "Spec":
        if not isinstance(doc, dict) or not isinstance(doc.get("match"), dict):
            raise InvalidArgument('trace: the body must be {"match": {"proto": ..., '
                                  '"ident": ...}, "host": ..., "names": {...}}')
        m = doc["match"]
        try:
            match = Match(str(m.get("proto")), int(m.get("ident")))
            seconds = float(doc.get("seconds") or DEFAULT_SECONDS)
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"trace: {e}") from None
        if not 0 < seconds <= MAX_SECONDS:
            raise InvalidArgument(f"trace: seconds must be within 0..{MAX_SECONDS:g}")
        names = {str(k): str(v) for k, v in (doc.get("names") or {}).items()}
        subnets = {str(k): str(v) for k, v in (doc.get("subnets") or {}).items()}
        return cls(match, str(doc.get("host") or HOST), names, subnets, seconds)


class Session:
    def __init__(self, sid: str, spec: Spec, where: dict[str, str | None],
                 ovs_dir: str | None = None):
        self.id, self.spec, self.ovs_dir = sid, spec, ovs_dir
        self.armed: dict[str, Armed] = {}
        failed: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=8) as ex:
            made = {label: ex.submit(Armed, ns, sid, spec.match) for label, ns in where.items()}
            for label, f in made.items():
                try:
                    self.armed[label] = f.result()
                except (FabricError, OSError) as e:
                    # a container that stopped meanwhile has nothing left to trace
                    if label == HOST:
                        failed.append(e)
                except BaseException as e:  # noqa: BLE001 - every one armed is closed first
                    failed.append(e)
        if failed:
            self.close()
            raise failed[0]

    def passes(self, words: IntentWords) -> list[Pass]:
        """Each armed namespace's passes (read once the probe is done)."""
        out: list[Pass] = []
        ovs = Ovs(self.ovs_dir) if self.ovs_dir and os.path.isdir(self.ovs_dir) else None
        for label, armed in self.armed.items():
            evs = armed.listener.drain()
            if not evs:
                continue
            kernel = Kernel(armed.netns)
            try:
                rules = ruleset.read(armed.nft, armed.netns)
                builder = Builder(self.spec.host, label, rules, kernel, words,
                                  self.spec.subnets, ovs)
                out += builder.passes(stops(evs, kernel), self.spec.match)
            finally:
                kernel.close()
        return out

    def close(self) -> None:
        for armed in self.armed.values():
            armed.close()
            try:
                conntrack.forget(armed.netns, self.spec.match)
            except (FabricError, OSError):
                pass    # the namespace went (its container stopped): so did its entries


class Sessions:
    """A daemon's traces in progress, each ended by `finish` or by its timer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, tuple[Session, threading.Timer]] = {}

    def start(self, spec: Spec, where: dict[str, str | None], ovs_dir: str | None = None
              ) -> str:
        sid = secrets.token_hex(4)
        s = Session(sid, spec, where, ovs_dir)
        timer = threading.Timer(spec.seconds, self._expire, (sid,))
        timer.daemon = True
        with self._lock:
            self._live[sid] = (s, timer)
        timer.start()
        return sid

    def finish(self, sid: str, words: Callable[[Spec], IntentWords]) -> list[Pass]:
        with self._lock:
            got = self._live.pop(sid, None)
        if got is None:
            raise NotFound(f"no trace {sid} in progress (it ends by itself after a while)")
        s, timer = got
        timer.cancel()
        try:
            return s.passes(words(s.spec))
        finally:
            s.close()

    def _expire(self, sid: str) -> None:
        with self._lock:
            got = self._live.pop(sid, None)
        if got is not None:
            got[0].close()
