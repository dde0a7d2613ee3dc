"""Lab hosts on other machines as the lab runs: registered so `-H LAB.HOST` reaches
them, their daemons' clients (TCP with mutual TLS), probes sent by those daemons, and
what `lab down` removes there.

On another machine the lab makes nothing but what the API makes: containers and
networks labelled `fabric.lab=LAB`, and firewall rules it records by id. `lab down`
removes exactly those, and the host's record here; never the daemon, its settings or
anything else on that machine.
"""

import json
import re
import threading
import time
from collections.abc import Callable

from fabric.client.http import ApiError, Client, DaemonUnavailable
from fabric.errors import FabricError
from fabric.host import registry
from fabric.lab import model
from fabric.lab.requests import LABEL
from fabric.probe import Outcome, Probe, wire

_clients: dict[tuple[str, str | None], Client] = {}
_lock = threading.Lock()


def client(url: str, cert_path: str | None) -> Client:
    """One client per daemon: its TLS context is made once (loading the files costs a
    few milliseconds) and serves every thread."""
    from fabric.client.connect import remote
    with _lock:
        key = (url, cert_path)
        if key not in _clients:
            try:
                _clients[key] = remote(url, cert_path)
            except ValueError as e:     # its TLS files went missing since `lab up`
                raise FabricError(f"{url}: the TLS files in {cert_path}: {e}") from None
        return _clients[key]


def of(ref: str) -> Client | None:
    """The client of registered host `ref` when it is on another machine; else None."""
    rec = registry.read(registry.root_of(ref))
    if rec is None or rec.url is None:
        return None
    return client(rec.url, rec.cert_path)


def answers(ref: str) -> bool:
    """Does the daemon of registered host `ref`, on another machine, answer?"""
    c = of(ref)
    try:
        return c is not None and c.request("GET", "/_ping").status == 200
    except (DaemonUnavailable, OSError):
        return False


def register(ref: str, lab: str, where: model.Remote) -> None:
    registry.add_remote(ref, lab, where.url, where.cert_path, time.time())


def reason(e: Exception) -> str:
    """An error of the API or the connection, in one line ("[Errno 111] " dropped)."""
    text = e.message if isinstance(e, ApiError | FabricError) else str(e)
    return re.sub(r"^\[Errno \d+\] ", "", text)


class Prober:
    """The expectation runner's sender for a probe from a host on another machine: the
    daemon there sends it (`POST /fabric/probe`), from the namespace the lab names as
    that machine names it."""

    def __init__(self, host: str, c: Client):
        self.host, self.client = host, c

    def __call__(self, src_netns: str, probe: Probe) -> Outcome:
        try:
            doc = self.client.call("POST", "/fabric/probe",
                                   body=wire.probe_doc(src_netns, probe))
        except (ApiError, DaemonUnavailable, OSError) as e:
            raise FabricError(f"host {self.host} ({self.client.url}): {reason(e)}") from None
        return wire.outcome_of(doc)


def clean(ref: str, lab: str, rules: list[str], say: Callable[[str], None]) -> None:
    """Remove what lab `lab` made on registered host `ref` if it is on another machine
    (its containers, networks and the firewall rules `rules` lists by id); nothing when
    it is not. FabricError when the daemon cannot be reached: the lab stays recorded,
    so `lab down` can be run again."""
    c = of(ref)
    if c is None:
        return
    label = {"label": [f"{LABEL}={lab}"]}
    try:
        for row in c.get("/containers/json", all=True, filters=json.dumps(label)):
            _gone(c, f"/containers/{row['Id']}", force=True, v=True)
        for net in c.get("/networks", filters=json.dumps(label)):
            _gone(c, f"/networks/{net['Id']}")
        for rule in rules:
            _gone(c, f"/fabric/firewall/rules/{rule}")
    except (ApiError, DaemonUnavailable, OSError) as e:
        raise FabricError(f"{ref}: cannot remove what lab {lab} made on {c.url}: "
                          f"{reason(e)}; run `fabric lab down {lab}` again once it "
                          "answers") from None
    say(f"removed its containers and networks on {c.url}")


def _gone(c: Client, path: str, **query) -> None:
    """DELETE `path`; what is gone already (removed by hand, or meanwhile) is gone."""
    try:
        c.delete(path, **query)
    except ApiError as e:
        if e.status != 404:
            raise
