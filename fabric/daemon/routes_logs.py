"""GET /containers/{id}/logs: conmon's k8s-file log as Docker's raw stream, following
while the container runs. The log is streamed as it is read (fabric.engine.logs), a
block at a time: the daemon never holds a log, however large."""

from collections.abc import Iterator

from fabric.daemon.http import Request, Response, Router
from fabric.daemon.params import time_arg
from fabric.engine import logs as logmod
from fabric.engine.attach import STDERR, STDOUT, frame
from fabric.socketwatch import peer_gone

FLUSH = 1 << 16


def add(r: Router, engine) -> None:
    C = engine.containers

    @r.route("GET", "/containers/{id}/logs")
    def logs(req: Request) -> Response:
        cid = C.id_of(req.params["id"])
        doc = C.get(cid)
        tty = bool(doc["Config"].get("Tty"))
        follow, stamps = req.flag("follow"), req.flag("timestamps")
        streams = {s for s in ("stdout", "stderr") if req.flag(s, True)}
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

        def render(rec: logmod.Record) -> bytes:
            data = rec.data
            if stamps:
                data = logmod.docker_ts(rec.ts).encode() + b" " + data
            return data if tty else frame(STDOUT if rec.stream == "stdout" else STDERR, data)

        def gen() -> Iterator[bytes]:
            out: list[bytes] = []
            size = 0
            for rec in logmod.read(doc["LogPath"], streams, tail, since, until, follow, alive):
                if rec is not None:
                    b = render(rec)
                    out.append(b)
                    size += len(b)
                if out and (rec is None or size >= FLUSH):
                    yield b"".join(out)
                    out, size = [], 0
            if out:
                yield b"".join(out)
        return Response(200, stream=gen(), content_type="application/vnd.docker.raw-stream"
                        if not tty else "application/octet-stream")
