"""Exec routes: Docker's /containers/{id}/exec and /exec/{id}/..."""

from fabric.daemon.http import Request, Response, Router, close_hijacked
from fabric.errors import Conflict


def add(r: Router, engine) -> None:
    execs = engine.execs

    @r.route("POST", "/containers/{id}/exec")
    def exec_create(req: Request) -> Response:
        return Response(201, execs.create(req.params["id"], req.json()))

    @r.route("POST", "/exec/{id}/start")
    def exec_start(req: Request) -> Response | None:
        body = req.json()
        if body.get("Detach"):
            execs.start(req.params["id"], None, detach=True)
            return Response(200, {})
        e = execs.get(req.params["id"])
        if e.running or e.done.is_set():
            raise Conflict(f"exec {e.id[:12]} has already run")
        client = req.hijack()
        try:
            execs.start(req.params["id"], client, detach=False)
        finally:
            close_hijacked(client)
        return None

    @r.route("POST", "/exec/{id}/resize")
    def exec_resize(req: Request) -> Response:
        execs.resize(req.params["id"], req.int("h", 24), req.int("w", 80))
        return Response(200, {})

    @r.route("GET", "/exec/{id}/json")
    def exec_inspect(req: Request) -> dict:
        return execs.inspect(req.params["id"])
