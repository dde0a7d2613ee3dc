"""`lab up` returns once every host has acted on the cluster store as it stood when the
last container started (fabric/lab/converge.py), against daemons played by fakes:
one that catches up, one that shares no store, one that stays behind."""

import pytest

from fabric.client.http import ApiError
from fabric.lab import converge, model


class Daemon:
    """A host's GET /fabric/cluster, one answer per call (the last one repeats)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def call(self, method, path, *args):
        assert (method, path) == ("GET", "/fabric/cluster")
        self.calls += 1
        got = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(got, Exception):
            raise got
        return got


def view(rev, store=7, synced=True, away=None):
    return {"Revision": rev, "StoreRevision": store, "Synced": synced, "Away": away}


@pytest.fixture
def daemons(monkeypatch):
    found: dict[str, Daemon] = {}
    monkeypatch.setattr(converge.live, "client", lambda lab, host: found[host])
    monkeypatch.setattr(converge, "POLL", 0.001)
    return found


def lab(*hosts):
    return model.Lab("cv", "cv.yaml", "", hosts=tuple(model.Host(h) for h in hosts))


def test_waits_until_every_host_acted_on_the_store_s_revision(daemons):
    daemons["h1"] = Daemon(view(5), view(6), view(7, store=8))
    daemons["h2"] = Daemon(view(7), view(7))
    daemons["h3"] = Daemon(ApiError(404, "this host shares no cluster store"))
    said = []
    converge.until_converged(lab("h1", "h2", "h3"), lambda s, t: said.append((s, t)))
    assert daemons["h1"].calls == 3     # behind twice, then at the revision read first
    assert daemons["h3"].calls == 1 and said == []


def test_a_host_that_stays_behind_is_named_once_the_limit_passes(daemons, monkeypatch):
    monkeypatch.setattr(converge, "LIMIT", 0.05)
    daemons["h1"] = Daemon(view(7))
    daemons["h2"] = Daemon(view(3), view(3, synced=False),
                           view(3, away="etcd://192.168.18.254:2379 is unreachable"))
    said = []
    converge.until_converged(lab("h1", "h2"), lambda s, t: said.append((s, t)))
    assert said == [("h2", "warning: its cluster store is away (etcd://192.168.18.254:2379 "
                           "is unreachable) after 0.05 s; what other hosts carry may reach "
                           "it late")]


def test_hosts_that_share_no_store_are_not_waited_for(daemons):
    daemons["h1"] = Daemon(ApiError(404, "no store"))
    converge.until_converged(lab("h1"))
    assert daemons["h1"].calls == 1
