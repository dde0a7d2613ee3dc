"""Routes for top, stats and the archive (cp) endpoints, shaped like Docker's."""

import base64
import json

from fabric.daemon.http import Response


def _send_head(req, status: int, headers: dict[str, str], content_type: str,
               length: int | None) -> None:
    h = req.handler
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    for k, v in headers.items():
        h.send_header(k, v)
    if length is not None:
        h.send_header("Content-Length", str(length))
    h.send_header("Connection", "close")
    h.end_headers()
    h.hijacked = True


def add(r, engine) -> None:
    from fabric.engine import stats as statsmod
    from fabric.engine.archive import Archives
    archives = Archives(engine)

    @r.route("GET", "/containers/{id}/top")
    def top(req):
        return statsmod.top(engine, req.params["id"], req.query.get("ps_args", ""))

    @r.route("GET", "/containers/{id}/stats")
    def stats(req):
        stream = req.flag("stream", True)
        one_shot = req.flag("one-shot", False)
        gen = statsmod.stream(engine, req.params["id"], stream_=stream,
                              one_shot_wait=0.0 if one_shot else 0.5)
        if not stream:
            doc = next(gen, None)
            return doc or {}

        def body():
            for d in gen:
                yield (json.dumps(d) + "\n").encode()
        return Response(200, stream=body(), content_type="application/json")

    def _stat_header(st: dict) -> dict:
        return {"X-Docker-Container-Path-Stat":
                base64.b64encode(json.dumps(st).encode()).decode()}

    @r.route("HEAD", "/containers/{id}/archive")
    def archive_head(req):
        st = archives.stat(req.params["id"], req.query.get("path", ""))
        _send_head(req, 200, _stat_header(st), "application/json", 0)

    @r.route("GET", "/containers/{id}/archive")
    def archive_get(req):
        st, f = archives.get(req.params["id"], req.query.get("path", ""), engine.root.tmp)
        try:
            f.seek(0, 2)
            n = f.tell()
            f.seek(0)
            _send_head(req, 200, _stat_header(st), "application/x-tar", n)
            w = req.handler.wfile
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                w.write(chunk)
            w.flush()
        finally:
            f.close()

    @r.route("PUT", "/containers/{id}/archive")
    def archive_put(req):
        archives.put(req.params["id"], req.query.get("path", ""), req.body_stream(),
                     no_overwrite=req.flag("noOverwriteDirNonDir"),
                     copy_uid_gid=req.flag("copyUIDGID"))
        return Response(200, raw=b"", content_type="text/plain")
