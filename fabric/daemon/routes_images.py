"""Image routes (Docker's /images/..., /commit, /containers/{id}/changes)."""

import json

from fabric.daemon import routes_registry
from fabric.daemon.http import Response
from fabric.daemon.params import read_body, repeated
from fabric.errors import InvalidArgument


def _json_lines(docs: list[dict]) -> Response:
    # Docker answers load and import with a stream of JSON messages, one per line.
    return Response(200, raw=b"".join(json.dumps(d).encode() + b"\n" for d in docs))


def add(r, engine) -> None:
    images = engine.images

    @r.route("GET", "/images/json")
    def image_list(req):
        return images.list()

    @r.route("GET", "/images/{name:path}/json")
    def image_inspect(req):
        return images.inspect(req.params["name"])

    @r.route("GET", "/images/{name:path}/history")
    def image_history(req):
        return images.history(req.params["name"])

    @r.route("POST", "/images/{name:path}/tag")
    def image_tag(req):
        repo, tag = req.query.get("repo", ""), req.query.get("tag", "")
        with images.lock:
            images.tag(req.params["name"], repo + (":" + tag if tag else ""))
        return Response(201, None)

    @r.route("DELETE", "/images/{name:path}")
    def image_remove(req):
        return images.remove(req.params["name"], force=req.flag("force"))

    @r.route("POST", "/images/prune")
    def image_prune(req):
        filters = json.loads(req.query.get("filters") or "{}")
        dangling = filters.get("dangling", {})
        if isinstance(dangling, dict):
            dangling = [k for k, v in dangling.items() if v]
        all_ = any(str(v).lower() in ("false", "0") for v in dangling)
        return images.prune(all_=all_)

    @r.route("POST", "/images/create")
    def image_create(req):
        from fabric.images.importer import import_rootfs
        if req.query.get("fromImage"):
            return routes_registry.pull(req, images)
        if req.query.get("fromSrc", "-") != "-":
            raise InvalidArgument("only fromSrc=- (the request body) is supported")
        image_id = read_body(req, lambda body: import_rootfs(
            images, body, req.query.get("repo", ""), req.query.get("tag", ""),
            repeated(req, "changes"), req.query.get("message", "")))
        return _json_lines([{"status": image_id}])

    @r.route("POST", "/images/load")
    def image_load(req):
        from fabric.images.load import load
        lines = read_body(req, lambda body: load(images, body))
        return _json_lines([{"stream": line + "\n"} for line in lines])

    @r.route("GET", "/images/get")
    def image_save(req):
        return _save(req, repeated(req, "names"))

    @r.route("GET", "/images/{name:path}/get")
    def image_save_one(req):
        return _save(req, [req.params["name"]])

    def _save(req, names):
        from fabric.images import save
        if not names:
            raise InvalidArgument("no image names given to save")
        with images.lock:      # no rmi may take a layer away half-way through the archive
            todo = save.plan(images, names)
            write = req.start_stream("application/x-tar")

            class Out:
                def write(self, data):
                    write(bytes(data))
                    return len(data)
            save.write(images, todo, Out())

    @r.route("POST", "/commit")
    def commit(req):
        from fabric.engine.commit import commit as do_commit
        cont = req.query.get("container", "")
        if not cont:
            raise InvalidArgument("commit needs a container")
        image_id = do_commit(engine, cont, req.query.get("repo", ""), req.query.get("tag", ""),
                             req.query.get("comment", ""), req.query.get("author", ""),
                             repeated(req, "changes"), req.flag("pause", True))
        return Response(201, {"Id": image_id})

    @r.route("GET", "/containers/{id}/changes")
    def container_changes(req):
        from fabric.engine.commit import changes
        return changes(engine, req.params["id"])
