"""GET /fabric/cluster: the host's cluster watch, how far it has acted on the store, and
the store's own revision now (`lab up` waits for every host to have caught up before
it says the lab is up)."""

from fabric.errors import NotFound, Unavailable


def add(r, watch) -> None:
    @r.route("GET", "/fabric/cluster")
    def cluster(req) -> dict:
        if watch is None:
            raise NotFound("this host shares no cluster store (settings key cluster-store)")
        out = watch.state()
        try:
            out["StoreRevision"] = watch.cluster.revision()
        except Unavailable:
            out["StoreRevision"] = None
        return out
