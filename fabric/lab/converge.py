"""`lab up`'s last look: every host has acted on the cluster store as it stands once
the containers run, so what the store carries between hosts (routes to other hosts'
slices, other hosts' containers in FDB, neighbour and /etc/hosts entries) is in place
when `lab up` returns, and `lab exec a -- ping b` right after it finds b by name.

Each host's daemon follows the store through its watch, which acts within
milliseconds of a change but apart from the request that made it. Once the last
container started, the hosts' daemons are asked for the store's revision (they reach
the store; this process may not, a lab's etcd sits on its segment), and `lab up` waits
until each host's watch has acted on the highest (GET /fabric/cluster), or says why
not after LIMIT seconds. A host whose daemon shares no store (404) has nothing to wait
for.
"""

import time

from fabric.client.http import ApiError, DaemonUnavailable
from fabric.lab import live, model
from fabric.lab.progress import Say, quiet

LIMIT = 10.0
POLL = 0.02


def until_converged(lab: model.Lab, say: Say = quiet) -> None:
    hosts = [h.name for h in lab.hosts]
    views = {h: _view(lab.name, h) for h in hosts}
    # the store as it stands now, as the hosts' daemons reach it (this process may not)
    target = max((v["StoreRevision"] for v in views.values()
                  if isinstance(v, dict) and v.get("StoreRevision") is not None), default=None)
    if target is None:
        return      # no host shares a store, or none reaches it: nothing to wait for here
    deadline = time.monotonic() + LIMIT
    while True:
        behind = {h: why for h in hosts if (why := _behind(views[h], target)) is not None}
        if not behind:
            return
        if time.monotonic() > deadline:
            for h, why in sorted(behind.items()):
                say(h, f"warning: {why} after {LIMIT:g} s; what other hosts carry may "
                    "reach it late")
            return
        time.sleep(POLL)
        views.update({h: _view(lab.name, h) for h in behind})


def _view(lab: str, host: str) -> dict | str | None:
    """The host's GET /fabric/cluster; None when it shares no store; why, when it did
    not answer."""
    try:
        return live.client(lab, host).call("GET", "/fabric/cluster")
    except ApiError as e:
        return None if e.status == 404 else f"its daemon says {e.message}"
    except DaemonUnavailable as e:
        return f"its daemon does not answer ({e})"


def _behind(view: dict | str | None, target: int) -> str | None:
    """Why the host has not caught up with revision `target`; None when it has."""
    if view is None:
        return None
    if isinstance(view, str):
        return view
    if view.get("Away"):
        return f"its cluster store is away ({view['Away']})"
    if not view.get("Synced") or int(view.get("Revision") or 0) < target:
        return f"it has acted on the cluster store up to revision {view.get('Revision')} " \
            f"of {target}"
    return None
