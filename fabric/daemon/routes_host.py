"""fabric-only routes through which a lab on another machine checks and probes this
host: `GET /fabric/host` (what this host is: its name, the network settings in
effect, its interfaces with their addresses, its routes) and `POST /fabric/probe` (one
probe sent from this host's own namespace or a running container's, fabric.probe).

`lab up` compares the first with the lab file, since a remote host's NICs, routes and
settings are the machine's own and cannot be made over the API; `lab test` asks the
second, since another machine's namespaces cannot be entered from where the lab runs.
"""

import os
from dataclasses import asdict, replace

from fabric.errors import InvalidArgument


def add(r, engine) -> None:
    @r.route("GET", "/fabric/host")
    def host(req) -> dict:
        from fabric.net import addrs, links, routes, rtnl
        with rtnl.rtnl(engine.host.netns) as ipr:
            found = links.list_links(ipr)
            addresses = addrs.list_addrs(ipr)
            table = routes.list_routes(ipr)
        names = {link.index: link.name for link in found}
        return {
            "Name": engine.host.name,
            "Settings": {k.replace("_", "-"): v
                         for k, v in asdict(engine.network.settings).items()},
            "Interfaces": [{"Name": link.name, "Up": link.up,
                            "Master": names.get(link.master) if link.master else None,
                            "Addresses": [a.cidr for a in addresses if a.index == link.index]}
                           for link in found],
            "Routes": [{"Dst": rt.dst, "Gateway": rt.gateway, "Dev": rt.dev} for rt in table],
        }

    @r.route("POST", "/fabric/probe")
    def probe(req) -> dict:
        from fabric.probe import send, wire
        netns, p = wire.probe_of(req.json())
        ours = _namespaces(engine)
        p = replace(p, sink_netns=None if p.sink_netns is None else ours(p.sink_netns),
                    via=tuple((ours(ns), ifname) for ns, ifname in p.via))
        return wire.outcome_doc(send(ours(netns), p))


def _namespaces(engine):
    """The namespaces a probe may be sent from, or its sink and taps opened in: the
    host's own ("") and its running containers'; anything else is refused, so the
    route cannot be aimed at namespaces that are not this host's."""
    own = engine.host.netns or f"/proc/{os.getpid()}/ns/net"
    running = {d["NetworkSettings"].get("SandboxKey") for d in engine.containers.all()
               if d["State"]["Status"] == "running"}

    def ours(netns: str) -> str:
        if netns == "":
            return own
        if netns not in running:
            raise InvalidArgument(f"probe: {netns} is not the namespace of a running "
                                  f"container of host {engine.host.name}")
        return netns
    return ours
