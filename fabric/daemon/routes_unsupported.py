"""What fabric does not do (yet), answered as a Docker daemon without that feature
answers, with a message that says so, so that Docker's clients stop with a clear error
instead of a 404 they may take for something else (the docker CLI reads a 404 from
some routes as "no such object").

Added after every other module's routes: a route another module serves wins.
"""

from fabric.daemon.http import Request, Response, Router
from fabric.errors import FabricError


class NotImplemented_(FabricError):
    status = 501


class SwarmInactive(FabricError):
    status = 503


_SWARM = ("This node is not a swarm manager: fabric has no swarm mode (it runs "
          "containers on each host's own daemon; see `fabric host` and labs).")


def add(r: Router, engine) -> None:
    def swarm(req: Request) -> Response:
        raise SwarmInactive(_SWARM)

    for method, path in (("GET", "/swarm"), ("GET", "/swarm/unlockkey"),
                         ("GET", "/nodes"), ("GET", "/nodes/{id}"),
                         ("GET", "/services"), ("GET", "/services/{id}"),
                         ("GET", "/services/{id}/logs"), ("GET", "/tasks"),
                         ("GET", "/tasks/{id}"), ("GET", "/secrets"), ("GET", "/configs"),
                         ("POST", "/services/create"), ("POST", "/secrets/create"),
                         ("POST", "/configs/create"), ("POST", "/swarm/leave"),
                         ("POST", "/swarm/update"), ("POST", "/swarm/unlock")):
        r.add(method, path, swarm)

    def refuse(what: str):
        def route(req: Request) -> Response:
            raise NotImplemented_(f"fabric does not implement {what} yet")
        return route

    r.add("POST", "/swarm/init", refuse("swarm mode (docker swarm init)"))
    r.add("POST", "/swarm/join", refuse("swarm mode (docker swarm join)"))
    r.add("POST", "/containers/{id}/update",
          refuse("changing a running container's resources (docker update)"))
    r.add("GET", "/images/search", refuse("searching registries"))
    for method, path in (("POST", "/containers/{id}/checkpoints"),
                         ("GET", "/containers/{id}/checkpoints")):
        r.add(method, path, refuse("checkpoints"))
    for method, path in (("POST", "/session"), ("POST", "/grpc")):
        r.add(method, path, refuse("BuildKit sessions"))

    @r.route("POST", "/build/prune")
    def build_prune(req: Request) -> dict:
        return {"CachesDeleted": [], "SpaceReclaimed": 0}   # no build cache to prune

    @r.route("GET", "/plugins")
    def plugins(req: Request) -> list:
        return []     # no managed plugins: network drivers are Python entry points
