"""Container routes (Docker's /containers/..., besides logs, exec, top, stats, archive
and changes, which have modules of their own) and fabric's exit notification."""

import json

from fabric.daemon.http import Request, Response, Router, close_hijacked
from fabric.daemon.params import filters
from fabric.engine.listing import inspect_doc, list_containers
from fabric.errors import FabricError, InvalidArgument, NotFound
from fabric.socketwatch import peer_gone


def add(r: Router, engine) -> None:
    C = engine.containers

    @r.route("POST", "/containers/create")
    def create(req: Request) -> Response:
        body = req.json()
        try:
            doc = C.create(body, req.query.get("name"))
        except NotFound as e:
            # The docker CLI takes any 404 from create for a missing image and pulls it:
            # a missing network or link target must not look like one.
            if not _image_known(engine, body):
                raise
            raise InvalidArgument(e.message) from None
        if req.flag("dry_run"):
            # `run --dry-run`: what starting it would run; the container is not kept.
            try:
                lines = C.describe_start(doc["Id"])
            finally:
                C.remove(doc["Id"], force=True, volumes=True)
            return Response(200, {"Id": "", "Warnings": [], "Explain": lines})
        return Response(201, doc)

    @r.route("GET", "/containers/json")
    def ps(req: Request) -> list[dict]:
        return list_containers(engine, all_=req.flag("all"), limit=req.int("limit"),
                               size=req.flag("size"), filters=filters(req))

    @r.route("POST", "/containers/prune")
    def prune(req: Request) -> dict:
        want = {k: v for k, v in filters(req).items() if k == "label"}
        gone = []
        for row in list_containers(engine, all_=True, limit=None, size=False,
                                   filters={**want, "status": ["created", "exited", "dead"]}):
            try:
                C.remove(row["Id"])
                gone.append(row["Id"])
            except FabricError:
                pass     # started or removed meanwhile: not ours to prune any more
        return {"ContainersDeleted": gone, "SpaceReclaimed": 0}

    @r.route("GET", "/containers/{id}/json")
    def inspect(req: Request) -> dict:
        doc = inspect_doc(engine, C.get(req.params["id"]))
        log = doc.get("HostConfig", {}).get("LogConfig") or {}
        if log.get("Type") in ("", "k8s-file"):
            # conmon's log reads back through the API as json-file's does, and clients
            # go by the name: docker-py's run() returns the output only for json-file.
            doc["HostConfig"]["LogConfig"] = {**log, "Type": "json-file"}
        return doc

    @r.route("POST", "/containers/{id}/start")
    def start(req: Request) -> Response:
        if req.flag("explain"):
            lines: list[str] = []
            C.start(req.params["id"], explain=lines)
            return Response(200, {"Explain": lines})
        C.start(req.params["id"])
        return Response(204)

    @r.route("POST", "/containers/{id}/stop")
    def stop(req: Request) -> Response:
        return Response(204 if C.stop(req.params["id"], req.int("t")) else 304)

    @r.route("POST", "/containers/{id}/restart")
    def restart(req: Request) -> Response:
        C.restart(req.params["id"], req.int("t"))
        return Response(204)

    @r.route("POST", "/containers/{id}/kill")
    def kill(req: Request) -> Response:
        C.kill(req.params["id"], req.query.get("signal") or "KILL")
        return Response(204)

    @r.route("POST", "/containers/{id}/pause")
    def pause(req: Request) -> Response:
        C.pause(req.params["id"])
        return Response(204)

    @r.route("POST", "/containers/{id}/unpause")
    def unpause(req: Request) -> Response:
        C.unpause(req.params["id"])
        return Response(204)

    @r.route("DELETE", "/containers/{id}")
    def remove(req: Request) -> Response:
        C.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
        return Response(204)

    @r.route("POST", "/containers/{id}/rename")
    def rename(req: Request) -> Response:
        C.rename(req.params["id"], req.query.get("name", ""))
        return Response(204)

    @r.route("POST", "/containers/{id}/wait")
    def wait(req: Request) -> Response:
        # Docker answers the head at once and the body when the condition holds: the
        # docker CLI asks before it starts the container and only starts it once the
        # head has arrived (a later head is `docker run` hanging after create).
        condition = req.query.get("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        ref = req.params["id"]
        try:
            C.get(ref)
        except NotFound:
            return Response(200, C.wait(ref, condition))  # a --rm one's code, or 404
        conn = req.handler.connection

        def body():
            try:
                doc = C.wait(ref, condition, gone=lambda: peer_gone(conn))
            except FabricError as e:
                if peer_gone(conn):
                    return
                doc = {"StatusCode": -1, "Error": {"Message": e.message}}
            yield json.dumps(doc).encode() + b"\n"
        return Response(200, stream=body())

    @r.route("POST", "/containers/{id}/resize")
    def resize(req: Request) -> Response:
        engine.attach.resize(C.id_of(req.params["id"]), req.int("h", 24), req.int("w", 80))
        return Response(200, {})

    @r.route("POST", "/containers/{id}/attach")
    def attach(req: Request) -> None:
        cid = C.id_of(req.params["id"])
        doc = C.get(cid)
        cfg = doc["Config"]
        ctr, pending = engine.attach.open(cid, wait_start=True)
        client = req.hijack()
        if pending is not None:
            ctr = engine.attach.wait_connect(cid, pending, client)
            if ctr is None:
                return None
        engine.attach.pump(ctr, client, tty=bool(cfg.get("Tty")),
                           stdin=req.flag("stdin") and bool(cfg.get("OpenStdin")),
                           stdout=req.flag("stdout", True), stderr=req.flag("stderr", True),
                           stdin_once=bool(cfg.get("StdinOnce")))
        close_hijacked(client)
        return None

    # ---- fabric-only -----------------------------------------------------------------
    @r.route("POST", "/fabric/containers/{id}/exited")
    def exited(req: Request) -> Response:
        """conmon's exit command (fabric.client.exithook) reports an exit here."""
        try:
            cid = C.id_of(req.params["id"])
        except Exception:
            return Response(204)
        C.on_exit(cid)
        return Response(204)


def _image_known(engine, body: dict) -> bool:
    try:
        engine.images.resolve(str(body.get("Image") or ""))
        return True
    except FabricError:
        return False
