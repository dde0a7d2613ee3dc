"""GET /containers/{id}/logs: conmon's k8s-file log as Docker's raw stream, following
while the container runs."""

from collections.abc import Iterator

from fabric.daemon.http import Request, Response, Router
from fabric.daemon.params import time_arg
from fabric.engine import logs as logmod
from fabric.engine.attach import STDERR, STDOUT, frame
from fabric.socketwatch import peer_gone


def add(r: Router, engine) -> None:
    C = engine.containers

    @r.route("GET", "/containers/{id}/logs")
    def logs(req: Request) -> Response:
        cid = C.id_of(req.params["id"])
        doc = C.get(cid)
        tty = bool(doc["Config"].get("Tty"))
        follow, stamps = req.flag("follow"), req.flag("timestamps")
        want = {"stdout": req.flag("stdout", True), "stderr": req.flag("stderr", True)}
        since = time_arg(req.query.get("since"))
        until = time_arg(req.query.get("until"))
        tail_q = req.query.get("tail", "all")
        tail = None if tail_q in ("all", "") else int(tail_q)

        conn = req.handler.connection

        def alive() -> bool:
            # Following ends when the container does, or when the client goes away.
            if peer_gone(conn):
                return False
            try:
                return C.get(cid)["State"]["Status"] in ("running", "paused", "restarting")
            except Exception:
                return False

        def render(rec: tuple[str, str, bytes]) -> bytes:
            ts, stream, data = rec
            if stamps:
                data = logmod.docker_ts(ts).encode() + b" " + data
            return data if tty else frame(STDOUT if stream == "stdout" else STDERR, data)

        def gen() -> Iterator[bytes]:
            every = list(logmod.records(doc["LogPath"], False, alive))
            recs = logmod.select_records([x for x in every if want.get(x[1])], tail, since, until)
            for rec in recs:
                yield render(rec)
            if follow:
                skip = len(every)
                for i, rec in enumerate(logmod.records(doc["LogPath"], True, alive)):
                    if i < skip or not want.get(rec[1]):
                        continue
                    yield render(rec)
        return Response(200, stream=gen(), content_type="application/vnd.docker.raw-stream"
                        if not tty else "application/octet-stream")
