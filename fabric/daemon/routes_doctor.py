"""fabric-only routes of `fabric doctor`: `GET /fabric/doctor` (what silently breaks
this host's networking, one finding each) and `POST /fabric/doctor/fix` (repair what
fabric owns, then look again). They run here because the daemon sees the host's
namespace and holds its store; the client only prints."""


def add(r, engine) -> None:
    core = engine.network.core

    def scene():
        from fabric.doctor.scene import Scene
        ids = frozenset(d["Id"] for d in engine.containers.all())
        return Scene.gather(core.svc, core.firewall, ids)

    @r.route("GET", "/fabric/doctor")
    def doctor(req) -> dict:
        from fabric.doctor import run
        with core.svc.lock:     # the records and the kernel, not changing meanwhile
            return run.diagnose(scene())

    @r.route("POST", "/fabric/doctor/fix")
    def doctor_fix(req) -> dict:
        from fabric.doctor import run
        with core.svc.lock:
            return run.fix(scene(), scene)
