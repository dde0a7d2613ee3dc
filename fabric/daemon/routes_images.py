"""Image routes (Docker's /images/..., /commit, /containers/{id}/changes)."""

import json
import re
from urllib.parse import parse_qs, urlsplit

from fabric.daemon.http import Response
from fabric.daemon.params import filters
from fabric.engine.events import labels_match
from fabric.errors import InvalidArgument


def _multi(req, name: str) -> list[str]:
    """Every value of a repeated query parameter (Docker repeats `names`, `changes`);
    the parsed req.query keeps only the last one."""
    raw = parse_qs(urlsplit(req.handler.path).query, keep_blank_values=True).get(name, [])
    out = []
    for v in raw:
        out += [x for x in v.split("\n") if x]
    return out


def _upload(req, fn):
    """Run fn on the request body (what it leaves unread when it fails is read away by
    the server before it answers)."""
    return fn(req.body_stream())


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


def _slashed(r):
    """Like r.route, but {name} may hold slashes (example.org/team/app:1), as in
    Docker's router; the plain router stops a parameter at the first slash."""
    def route(method: str, pattern: str):
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>.+)", pattern) + "$")

        def deco(fn):
            r.routes.append((method, rx, fn))
            return fn
        return deco
    return route


def add(r, engine) -> None:
    images = engine.images
    events = engine.containers.events
    named = _slashed(r)

    @r.route("GET", "/images/json")
    def image_list(req):
        return _filtered_images(images.list(), filters(req))

    @named("GET", "/images/{name}/json")
    def image_inspect(req):
        doc = images.inspect(req.params["name"])
        meta = doc.get("Metadata") or {}
        if not meta.get("LastTagTime"):
            # Go clients parse it as a time: never tagged is Go's zero time, not "".
            doc["Metadata"] = {**meta, "LastTagTime": "0001-01-01T00:00:00Z"}
        return doc

    @named("GET", "/images/{name}/history")
    def image_history(req):
        return images.history(req.params["name"])

    @named("POST", "/images/{name}/tag")
    def image_tag(req):
        repo, tag = req.query.get("repo", ""), req.query.get("tag", "")
        new = repo + (":" + tag if tag else "")
        with images.lock:
            images.tag(req.params["name"], new)
        events.image("tag", images.resolve(new), new)
        return Response(201, None)

    @named("DELETE", "/images/{name}")
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
            raise InvalidArgument("fabric does not pull from registries: use `fabric image "
                                  "load` or `fabric image import`")
        if req.query.get("fromSrc", "-") != "-":
            raise InvalidArgument("only fromSrc=- (the request body) is supported")
        image_id = _upload(req, lambda body: import_rootfs(
            images, body, req.query.get("repo", ""), req.query.get("tag", ""),
            _multi(req, "changes"), req.query.get("message", "")))
        return _json_lines([{"status": image_id}])

    @r.route("POST", "/images/load")
    def image_load(req):
        from fabric.images.load import load
        lines = _upload(req, lambda body: load(images, body))
        return _json_lines([{"stream": line + "\n"} for line in lines])

    @r.route("GET", "/images/get")
    def image_save(req):
        return _save(req, _multi(req, "names"))

    @named("GET", "/images/{name}/get")
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
                             _multi(req, "changes"), req.flag("pause", True))
        return Response(201, {"Id": image_id})

    @r.route("GET", "/containers/{id}/changes")
    def container_changes(req):
        from fabric.engine.commit import changes
        return changes(engine, req.params["id"])
