"""The Engine API: Docker v1.41 routes and bodies where fabric does the same thing,
`/fabric/...` for what only fabric does. Each resource's routes live in a module of
their own; `build` adds them all."""

from fabric.daemon import (
    routes_build,
    routes_cluster,
    routes_containers,
    routes_doctor,
    routes_events,
    routes_exec,
    routes_extra,
    routes_firewall,
    routes_host,
    routes_images,
    routes_logs,
    routes_mesh,
    routes_network,
    routes_registry,
    routes_system,
    routes_trace,
    routes_unsupported,
    routes_volumes,
)
from fabric.daemon.http import Router


def build(engine, watch=None) -> Router:
    r = Router()
    for module in (routes_system, routes_containers, routes_logs, routes_exec, routes_images,
                   routes_registry, routes_build, routes_volumes, routes_extra, routes_network,
                   routes_firewall, routes_events, routes_host, routes_doctor,
                   routes_trace):
        module.add(r, engine)
    routes_mesh.add(r, engine)
    routes_cluster.add(r, watch)
    routes_events.observe_networks(r, engine)
    routes_unsupported.add(r, engine)   # last: any module's own route wins
    return r
