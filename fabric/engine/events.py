"""Docker's event stream: what happened to containers, networks, volumes and images,
kept in a bounded history and handed to every follower (`GET /events`, `fabric events`,
docker-compose and docker-py watching their containers).

Events are emitted where the thing happens (the container lifecycle, the API routes
that change networks, volumes and images) and carry Docker's shape, so that Docker's
clients read them unchanged: `Type`, `Action`, `Actor{ID, Attributes}`, `scope`, `time`,
`timeNano`, and for containers also the old `status`, `id` and `from`.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

HISTORY = 1000  # what a follower asking `since` a while ago can still get


def labels_match(attrs: dict, specs: list[str]) -> bool:
    """Docker's label filters: each KEY or KEY=VALUE must hold."""
    for spec in specs:
        k, eq, v = spec.partition("=")
        if k not in attrs or (eq and attrs[k] != v):
            return False
    return True


def matches(ev: dict, filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: values of one key are alternatives, keys all apply."""
    actor = ev["Actor"]
    attrs = actor.get("Attributes") or {}
    for key, values in filters.items():
        if not values:
            continue
        if key == "type" and ev["Type"] not in values:
            return False
        if key == "event" and not any(ev["Action"] == v or ev["Action"].startswith(v + ":")
                                      for v in values):
            return False
        if key == "label" and not labels_match(attrs, values):
            return False
        if key in ("container", "network", "volume", "image"):
            if ev["Type"] != key and not (key == "image" and ev["Type"] == "container"):
                return False
            names = {actor["ID"], attrs.get("name", "")} if key != "image" else \
                {attrs.get("image", ""), actor["ID"], attrs.get("name", "")}
            if not any(v in names or (len(v) >= 4 and actor["ID"].startswith(v))
                       for v in values):
                return False
    return True


class Events:
    def __init__(self) -> None:
        self._log: deque[tuple[int, dict]] = deque(maxlen=HISTORY)
        self._seq = 0
        self._cond = threading.Condition()

    def emit(self, type_: str, action: str, actor_id: str, attributes: dict) -> None:
        now = time.time_ns()
        ev: dict = {"Type": type_, "Action": action,
                    "Actor": {"ID": actor_id, "Attributes": attributes},
                    "scope": "local", "time": now // 1_000_000_000, "timeNano": now}
        if type_ == "container":
            ev.update(status=action, id=actor_id, **{"from": attributes.get("image", "")})
        with self._cond:
            self._seq += 1
            self._log.append((self._seq, ev))
            self._cond.notify_all()

    # ---- what the engine reports ------------------------------------------------------
    def container(self, action: str, doc: dict, **extra: object) -> None:
        attrs = {**(doc["Config"].get("Labels") or {}),
                 "image": doc["Config"].get("Image", ""), "name": doc["Name"].lstrip("/"),
                 **{k: str(v) for k, v in extra.items()}}
        self.emit("container", action, doc["Id"], attrs)

    def network(self, action: str, net_id: str, name: str, driver: str = "bridge",
                container: str | None = None) -> None:
        attrs = {"name": name, "type": driver}
        if container:
            attrs["container"] = container
        self.emit("network", action, net_id, attrs)

    def image(self, action: str, image_id: str, name: str = "") -> None:
        self.emit("image", action, image_id, {"name": name} if name else {})

    def volume(self, action: str, name: str, driver: str = "local") -> None:
        self.emit("volume", action, name, {"driver": driver})

    def _networks(self, action: str, doc: dict) -> None:
        for name, es in (doc.get("NetworkSettings", {}).get("Networks") or {}).items():
            if es.get("NetworkID"):
                self.network(action, es["NetworkID"], name, container=doc["Id"])

    def started(self, doc: dict) -> None:
        """As Docker: its networks' `connect`, then the container's `start`."""
        self._networks("connect", doc)
        self.container("start", doc)

    def died(self, doc: dict) -> None:
        """As Docker: `die` with the exit code, then its networks' `disconnect`."""
        self.container("die", doc, exitCode=doc["State"]["ExitCode"])
        self._networks("disconnect", doc)

    # ---- what followers read ----------------------------------------------------------
    def stream(self, since: float | None, until: float | None,
               filters: dict[str, list[str]], idle: float = 1.0,
               stopped: Callable[[], bool] = lambda: False) -> Iterator[dict | None]:
        """Past events from `since`, then new ones as they come, until `until` or until
        `stopped()`; yields None every `idle` seconds without one, so that the caller
        can notice a client that went away."""
        with self._cond:
            backlog = list(self._log)
            seq = self._seq
        if since is not None:
            for _, ev in backlog:
                if ev["timeNano"] >= since * 1e9 and (until is None or
                                                      ev["timeNano"] <= until * 1e9):
                    if matches(ev, filters):
                        yield ev
        while not stopped() and (until is None or time.time() < until):
            with self._cond:
                wait = idle if until is None else max(0.0, min(idle, until - time.time()))
                if self._seq == seq:
                    self._cond.wait(wait)
                fresh = [ev for s, ev in self._log if s > seq]
                seq = self._seq
            for ev in fresh:
                if until is not None and ev["timeNano"] > until * 1e9:
                    return
                if matches(ev, filters):
                    yield ev
            if not fresh:
                yield None
