"""Volume routes (Docker's /volumes/...)."""

from fabric.daemon.http import Response
from fabric.daemon.params import filters


def add(r, engine) -> None:
    V = engine.volumes
    events = engine.containers.events

    @r.route("GET", "/volumes")
    def volume_list(req):
        return {"Volumes": V.list(filters(req)), "Warnings": []}

    @r.route("POST", "/volumes/create")
    def volume_create(req):
        b = req.json()
        doc = V.create(b.get("Name") or None, b.get("Driver") or "local", b.get("Labels"),
                       b.get("DriverOpts"))
        events.volume("create", doc["Name"], doc.get("Driver", "local"))
        return Response(201, doc)

    @r.route("GET", "/volumes/{name}")
    def volume_inspect(req):
        return V.inspect(req.params["name"])

    @r.route("DELETE", "/volumes/{name}")
    def volume_remove(req):
        V.remove(req.params["name"], force=req.flag("force"))
        events.volume("destroy", req.params["name"])
        return Response(204)

    @r.route("POST", "/volumes/prune")
    def volume_prune(req):
        out = V.prune()
        for name in out.get("VolumesDeleted") or []:
            events.volume("destroy", name)
        return out
