"""GET /events, Docker's event stream; and the events of network changes made through
the API, which are reported here around the network routes, so that the network core
needs no knowledge of them. (Joining and leaving networks at start and exit is reported
by the container lifecycle itself: fabric.engine.events.)"""

import json
from collections.abc import Callable

from fabric.daemon.http import Request, Response, Router
from fabric.daemon.params import filters, time_arg
from fabric.errors import FabricError
from fabric.socketwatch import peer_gone

Route = Callable[[Request], object]


def add(r: Router, engine) -> None:
    events = engine.containers.events

    @r.route("GET", "/events")
    def stream(req: Request) -> Response:
        since, until = time_arg(req.query.get("since")), time_arg(req.query.get("until"))
        want = filters(req)
        conn = req.handler.connection

        def body():
            for ev in events.stream(since, until, want, stopped=lambda: peer_gone(conn)):
                yield b"" if ev is None else json.dumps(ev).encode() + b"\n"
        return Response(200, stream=body())


def observe_networks(r: Router, engine) -> None:
    """Wrap the network routes (fabric.daemon.routes_network) so that a change made
    through them is reported as Docker reports it. Call after they are added."""
    events, N, C = engine.containers.events, engine.network, engine.containers

    def applied(req: Request) -> bool:
        return not (req.flag("dry_run") or req.flag("explain"))

    def net_of(ref: str) -> dict | None:
        try:
            return N.inspect_network(ref)
        except FabricError:
            return None

    def report(action: str, net: dict | None, container: str | None = None) -> None:
        if net is not None:
            events.network(action, net["Id"], net["Name"], net.get("Driver", ""), container)

    def create(fn: Route) -> Route:
        def wrapped(req: Request):
            out = fn(req)
            if applied(req) and isinstance(out, Response) and out.status == 201:
                report("create", net_of(out.body["Id"]))
            return out
        return wrapped

    def remove(fn: Route) -> Route:
        def wrapped(req: Request):
            before = net_of(req.params["id"])
            out = fn(req)
            if applied(req):
                report("destroy", before)
            return out
        return wrapped

    def membership(action: str) -> Callable[[Route], Route]:
        def wrap(fn: Route) -> Route:
            def wrapped(req: Request):
                out = fn(req)
                if applied(req):
                    try:
                        cid = C.id_of(str(req.json().get("Container", "")))
                    except FabricError:
                        return out
                    report(action, net_of(req.params["id"]), cid)
                return out
            return wrapped
        return wrap

    for method, sample, wrap in (("POST", "/networks/create", create),
                                 ("DELETE", "/networks/x", remove),
                                 ("POST", "/networks/x/connect", membership("connect")),
                                 ("POST", "/networks/x/disconnect", membership("disconnect"))):
        for i, (m, rx, fn) in enumerate(r.routes):
            if m == method and rx.match(sample):
                r.routes[i] = (m, rx, wrap(fn))
                break
