"""Image routes (Docker's /images/..., /commit, /containers/{id}/changes)."""

import json

from fabric.daemon import routes_registry
from fabric.daemon.http import Response
from fabric.daemon.params import filters, read_body, repeated
from fabric.engine.events import labels_match
from fabric.errors import InvalidArgument


def _json_lines(docs: list[dict]) -> Response:
    # Docker answers load and import with a stream of JSON messages, one per line.
    return Response(200, raw=b"".join(json.dumps(d).encode() + b"\n" for d in docs))


def _familiar(ref: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _filtered_images(rows: list[dict], flt: dict[str, list[str]]) -> list[dict]:
    """Docker's image filters: reference (a pattern on name[:tag], which also narrows
    the tags shown), dangling, label."""
    from fnmatch import fnmatchcase
    out = []
    for row in rows:
        tags = row.get("RepoTags") or []
        refs = flt.get("reference")
        if refs:
            tags = [t for t in tags for pat in refs
                    if fnmatchcase(_familiar(t), pat if ":" in pat else pat + ":*")]
            if not tags:
                continue
            row = {**row, "RepoTags": tags}
        dangling = {v.lower() for v in flt.get("dangling", [])}
        untagged = not tags or tags == ["<none>:<none>"]
        if dangling and (("true" in dangling or "1" in dangling) != untagged):
            continue
        if not labels_match(row.get("Labels") or {}, flt.get("label", [])):
            continue
        out.append(row)
    return out


def add(r, engine) -> None:
    images = engine.images
    events = engine.containers.events

    @r.route("GET", "/images/json")
    def image_list(req):
        return _filtered_images(images.list(), filters(req))

    @r.route("GET", "/images/{name:path}/json")
    def image_inspect(req):
        doc = images.inspect(req.params["name"])
        meta = doc.get("Metadata") or {}
        if not meta.get("LastTagTime"):
            # Go clients parse it as a time: never tagged is Go's zero time, not "".
            doc["Metadata"] = {**meta, "LastTagTime": "0001-01-01T00:00:00Z"}
        return doc

    @r.route("GET", "/images/{name:path}/history")
    def image_history(req):
        return images.history(req.params["name"])

    @r.route("POST", "/images/{name:path}/tag")
    def image_tag(req):
        repo, tag = req.query.get("repo", ""), req.query.get("tag", "")
        new = repo + (":" + tag if tag else "")
        with images.lock:
            images.tag(req.params["name"], new)
        events.image("tag", images.resolve(new), new)
        return Response(201, None)

    @r.route("DELETE", "/images/{name:path}")
    def image_remove(req):
        image_id = images.resolve(req.params["name"])
        out = images.remove(req.params["name"], force=req.flag("force"))
        for item in out:
            if item.get("Untagged"):
                events.image("untag", image_id, item["Untagged"])
            if item.get("Deleted"):
                events.image("delete", item["Deleted"])
        return out

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

    @r.route("POST", "/fabric/images/adopt")
    def image_adopt(req):
        """An image of another root on this machine, its layers hard-linked, not copied
        (a lab's hosts share one copy): {"Root": path, "Image": id, "Refs": [...]}."""
        import os

        from fabric.images import sharing
        from fabric.paths import HostRoot
        body = req.json() or {}
        root, refs = body.get("Root"), body.get("Refs") or []
        if not isinstance(root, str) or not os.path.isabs(root) or \
                not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
            raise InvalidArgument('adopt takes {"Root": absolute path, "Image": id, '
                                  '"Refs": [names]}')
        image_id = sharing.adopt(images, HostRoot(root), str(body.get("Image") or ""), refs)
        for ref in refs:
            events.image("tag", image_id, ref)
        return {"Id": image_id}

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
