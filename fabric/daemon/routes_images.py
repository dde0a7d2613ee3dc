"""Image routes (Docker's /images/...)."""

from fabric.daemon.http import Response


def add(r, engine) -> None:
    I = engine.images

    @r.route("GET", "/images/json")
    def image_list(req):
        return I.list()

    @r.route("GET", "/images/{name}/json")
    def image_inspect(req):
        return I.inspect(req.params["name"])

    @r.route("POST", "/images/{name}/tag")
    def image_tag(req):
        repo, tag = req.query.get("repo", ""), req.query.get("tag", "")
        I.tag(req.params["name"], repo + (":" + tag if tag else ""))
        return Response(201, None)

    @r.route("DELETE", "/images/{name}")
    def image_remove(req):
        return I.remove(req.params["name"], force=req.flag("force"))
