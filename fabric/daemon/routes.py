"""The Engine API: Docker v1.41 routes and bodies where fabric does the same thing,
`/fabric/...` for what only fabric does."""

import json
import os
import platform
import socket
import time

from fabric import API_VERSION, __version__
from fabric.daemon.http import Request, Response, Router
from fabric.engine import logs as logmod
from fabric.engine.attach import STDERR, STDOUT, frame
from fabric.engine.timefmt import parse_iso


def _filters(req: Request) -> dict[str, list[str]]:
    raw = req.query.get("filters")
    if not raw:
        return {}
    doc = json.loads(raw)
    # Docker accepts both {"k": ["v"]} and {"k": {"v": true}}.
    return {k: (list(v) if isinstance(v, (list, dict)) else [v]) for k, v in doc.items()}


def build(engine) -> Router:
    r = Router()
    C = engine.containers

    # ---- system -------------------------------------------------------------------------
    @r.route("GET", "/_ping")
    def ping(req):
        return Response(200, raw=b"OK", content_type="text/plain")

    @r.route("GET", "/version")
    def version(req):
        return {"Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": "1.24",
                "Os": "linux", "Arch": platform.machine(), "KernelVersion": platform.release(),
                "GoVersion": "python" + platform.python_version(),
                "Components": [{"Name": "Engine", "Version": __version__},
                               {"Name": "runc",
                                "Version": _tool_version(["runc", "--version"])},
                               {"Name": "conmon",
                                "Version": _tool_version(["conmon", "--version"])}]}

    @r.route("GET", "/info")
    def info(req):
        docs = C.all()
        count = {s: sum(1 for d in docs if d["State"]["Status"] == s)
                 for s in ("running", "paused", "exited", "created")}
        mem = 0
        try:
            with open("/proc/meminfo") as f:
                mem = int(f.readline().split()[1]) * 1024
        except OSError:
            pass
        return {"ID": engine.store.kv_get("daemon-id") or "", "Containers": len(docs),
                "ContainersRunning": count["running"], "ContainersPaused": count["paused"],
                "ContainersStopped": count["exited"] + count["created"],
                "Images": len(engine.images.list()), "Driver": "overlay",
                "DockerRootDir": engine.root.path, "Name": socket.gethostname(),
                "NCPU": os.cpu_count(), "MemTotal": mem, "OperatingSystem": _os_name(),
                "OSType": "linux", "Architecture": platform.machine(),
                "KernelVersion": platform.release(), "ServerVersion": __version__,
                "DefaultRuntime": "runc", "CgroupDriver": "cgroupfs",
                "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
                else "1",
                "LoggingDriver": "k8s-file (conmon)", "Pid": os.getpid(),
                "NetworkNamespace": os.readlink("/proc/self/ns/net"),
                "Plugins": {"Volume": ["local"], "Network": engine.network.driver_names()
                            if hasattr(engine.network, "driver_names") else ["host", "none"]},
                "SecurityOptions": []}

    # ---- containers ------------------------------------------------------------------------
    @r.route("POST", "/containers/create")
    def create(req):
        doc = C.create(req.json(), req.query.get("name"))
        if req.flag("dry_run"):
            # `run --dry-run`: what starting it would run; the container is not kept.
            try:
                lines = C.describe_start(doc["Id"])
            finally:
                C.remove(doc["Id"], force=True, volumes=True)
            return Response(200, {"Id": "", "Warnings": [], "Explain": lines})
        return Response(201, doc)

    @r.route("GET", "/containers/json")
    def ps(req):
        from fabric.engine.listing import list_containers
        return list_containers(engine, all_=req.flag("all"), limit=req.int("limit"),
                               size=req.flag("size"), filters=_filters(req))

    @r.route("GET", "/containers/{id}/json")
    def inspect(req):
        from fabric.engine.listing import inspect_doc
        return inspect_doc(engine, C.get(req.params["id"]))

    @r.route("POST", "/containers/{id}/start")
    def start(req):
        if req.flag("explain"):
            lines: list[str] = []
            C.start(req.params["id"], explain=lines)
            return Response(200, {"Explain": lines})
        C.start(req.params["id"])
        return Response(204)

    @r.route("POST", "/containers/{id}/stop")
    def stop(req):
        return Response(204 if C.stop(req.params["id"], req.int("t")) else 304)

    @r.route("POST", "/containers/{id}/restart")
    def restart(req):
        C.restart(req.params["id"], req.int("t"))
        return Response(204)

    @r.route("POST", "/containers/{id}/kill")
    def kill(req):
        C.kill(req.params["id"], req.query.get("signal") or "KILL")
        return Response(204)

    @r.route("POST", "/containers/{id}/pause")
    def pause(req):
        C.pause(req.params["id"])
        return Response(204)

    @r.route("POST", "/containers/{id}/unpause")
    def unpause(req):
        C.unpause(req.params["id"])
        return Response(204)

    @r.route("DELETE", "/containers/{id}")
    def remove(req):
        C.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
        return Response(204)

    @r.route("POST", "/containers/{id}/rename")
    def rename(req):
        C.rename(req.params["id"], req.query.get("name", ""))
        return Response(204)

    @r.route("POST", "/containers/{id}/wait")
    def wait(req):
        return C.wait(req.params["id"], req.query.get("condition") or "not-running")

    @r.route("POST", "/containers/{id}/resize")
    def resize(req):
        engine.attach.resize(C.id_of(req.params["id"]), req.int("h", 24), req.int("w", 80))
        return Response(200, {})

    @r.route("POST", "/containers/{id}/attach")
    def attach(req):
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
        _close(client)
        return None

    @r.route("GET", "/containers/{id}/logs")
    def logs(req):
        cid = C.id_of(req.params["id"])
        doc = C.get(cid)
        tty = bool(doc["Config"].get("Tty"))
        follow, stamps = req.flag("follow"), req.flag("timestamps")
        want = {"stdout": req.flag("stdout", True), "stderr": req.flag("stderr", True)}
        since = _time_arg(req.query.get("since"))
        until = _time_arg(req.query.get("until"))
        tail_q = req.query.get("tail", "all")
        tail = None if tail_q in ("all", "") else int(tail_q)

        def alive() -> bool:
            try:
                return C.get(cid)["State"]["Status"] in ("running", "paused", "restarting")
            except Exception:
                return False

        def render(rec) -> bytes:
            ts, stream, data = rec
            if stamps:
                data = logmod.docker_ts(ts).encode() + b" " + data
            return data if tty else frame(STDOUT if stream == "stdout" else STDERR, data)

        def gen():
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

    # ---- exec ---------------------------------------------------------------------------
    @r.route("POST", "/containers/{id}/exec")
    def exec_create(req):
        return Response(201, engine.execs.create(req.params["id"], req.json()))

    @r.route("POST", "/exec/{id}/start")
    def exec_start(req):
        body = req.json()
        if body.get("Detach"):
            engine.execs.start(req.params["id"], None, detach=True)
            return Response(200, {})
        e = engine.execs.get(req.params["id"])
        if e.running or e.done.is_set():
            from fabric.errors import Conflict
            raise Conflict(f"exec {e.id[:12]} has already run")
        client = req.hijack()
        try:
            engine.execs.start(req.params["id"], client, detach=False)
        finally:
            _close(client)
        return None

    @r.route("POST", "/exec/{id}/resize")
    def exec_resize(req):
        engine.execs.resize(req.params["id"], req.int("h", 24), req.int("w", 80))
        return Response(200, {})

    @r.route("GET", "/exec/{id}/json")
    def exec_inspect(req):
        return engine.execs.inspect(req.params["id"])

    # ---- fabric-only ---------------------------------------------------------------------
    @r.route("POST", "/fabric/containers/{id}/exited")
    def exited(req):
        try:
            cid = C.id_of(req.params["id"])
        except Exception:
            return Response(204)
        C.on_exit(cid)
        return Response(204)

    from fabric.daemon import routes_images, routes_volumes
    routes_images.add(r, engine)
    routes_volumes.add(r, engine)
    for extra in ("fabric.daemon.routes_extra", "fabric.daemon.routes_network",
                  "fabric.daemon.routes_firewall", "fabric.daemon.routes_registry",
                  "fabric.daemon.routes_build"):
        try:
            mod = __import__(extra, fromlist=["add"])
        except ImportError:
            continue
        mod.add(r, engine)
    return r


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def _time_arg(v: str | None) -> float | None:
    """Docker's --since/--until: a Unix timestamp, an RFC 3339 time or a duration ago."""
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600}
    if v[-1] in units and v[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(v[:-1]) * units[v[-1]]
    return parse_iso(v)


def _tool_version(cmd: list[str]) -> str:
    import subprocess
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
        return out.split("\n")[0].split()[-1] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "missing"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for ln in f:
                if ln.startswith("PRETTY_NAME="):
                    return ln.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
