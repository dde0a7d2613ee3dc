"""Containers on networks: attach at start, detach at stop, connect and disconnect while
running, rename.

Everything here runs under the service's one lock. The engine holds a container's lock
before it calls in, never after (container lock, then this one); it saves its own
documents from what comes back, and rewrites the /etc/hosts of the containers named
`affected`.
"""

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.network import names
from fabric.network.endpoints import Endpoints, next_slot
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.publishing import HostPorts, bindings_of, resolve
from fabric.network.requests import (
    Attached,
    AttachRequest,
    Connected,
    Detached,
    EndpointRequest,
    Member,
    Ports,
    Publish,
)
from fabric.network.service import NetworkService


class Attachments:
    def __init__(self, svc: NetworkService, endpoints: Endpoints, firewall: FirewallRendering):
        self.svc = svc
        self.endpoints = endpoints
        self.firewall = firewall

    def attach(self, req: AttachRequest) -> Attached | None:
        """Put a starting container on its networks, eth0 first; all or nothing. None
        in a dry run (nothing was recorded)."""
        svc = self.svc
        with svc.lock:
            wanted = [(net, er) for er in req.endpoints
                      for net in (svc.get_network(er.network),) if svc.has_driver(net)]
            ports = self._ports(req, wanted)     # refused before anything is made
            joined: list[dict] = []
            try:
                gateway_taken = False
                for i, (net, er) in enumerate(wanted):
                    ep = self.endpoints.join(req.member, net, er, req.netns, f"eth{i}",
                                             not gateway_taken, ports)
                    gateway_taken = gateway_taken or bool(ep["gateway"])
                    joined.append(ep)
                if svc.dry_run:
                    return None
                self.firewall.render()
            except BaseException:
                for ep in reversed(joined):
                    self.endpoints.leave(ep, req.netns, quiet=True)
                raise
            affected = self._affected(req.member.container_id, req.member.name, joined)
        return Attached({ep["network_id"]: ep for ep in joined}, ports, affected)

    def _ports(self, req: AttachRequest, wanted: list[tuple[dict, EndpointRequest]]) -> Ports:
        if not wanted:
            return {}
        facts = self.publishable(wanted[0][0], req.publish)
        taken = []
        seen = {req.member.container_id}
        for ep in self.svc.records.endpoints():
            if ep["container_id"] not in seen:
                seen.add(ep["container_id"])
                taken += bindings_of(ep.get("ports"))
        return resolve(req.publish, taken, HostPorts(self.svc.host.netns),
                       default_ip=facts.publish_ip if facts else "0.0.0.0")

    def publishable(self, net: dict, publish: Publish) -> FirewallFacts | None:
        """The facts ports are published with on `net` (a container's first network);
        publishing where its driver states none is refused, not silently dropped."""
        facts = self.svc.facts(net)
        if facts is None and publish.wanted():
            raise InvalidArgument(f"cannot publish ports on network {net['name']}: its "
                                  f"driver {net['driver']} gives the firewall nothing to "
                                  "publish them with")
        return facts

    def detach(self, container_id: str, netns: str | None,
               sandbox_ending: bool = False) -> Detached:
        """Take the container off every network, as far as it goes; `sandbox_ending`
        as in the driver API (the engine removes the namespace next)."""
        with self.svc.lock:
            eps = self.svc.records.endpoints(container_id=container_id)
            # the container is leaving all of them: what cannot be undone is reported,
            # and its records go all the same
            errors = [e for ep in eps for e in
                      (self.endpoints.leave(ep, netns, True, sandbox_ending),) if e]
            if not eps:
                return Detached(frozenset())
            self.firewall.render()
            affected = self._affected(container_id, eps[0]["container_name"], eps)
        return Detached(affected, tuple(errors))

    def connect(self, member: Member, netns: str, req: EndpointRequest) -> Connected | None:
        """Put a running container on one more network, on the next free ethN; its
        default route stays where it is. None in a dry run."""
        svc = self.svc
        with svc.lock:
            net = svc.get_network(req.network)
            mine = svc.records.endpoints(container_id=member.container_id)
            ifname, may_route = next_slot(mine)
            ports = (mine[0].get("ports") or {}) if mine else {}
            ep = self.endpoints.join(member, net, req, netns, ifname, may_route, ports)
            if svc.dry_run:
                return None
            self.firewall.render()
            affected = self._affected(member.container_id, member.name, [ep])
        return Connected(ep, affected)

    def disconnect(self, container_id: str, network_id: str, netns: str | None,
                   force: bool = False) -> frozenset[str] | None:
        """Take a container off one network; with `force`, a failing unwiring is logged
        and the endpoint goes anyway. The containers affected; None in a dry run."""
        svc = self.svc
        with svc.lock:
            eps = [e for e in svc.records.endpoints(container_id=container_id)
                   if e["network_id"] == network_id]
            for ep in eps:
                self.endpoints.leave(ep, netns, quiet=force)
            if svc.dry_run:
                return None
            if not eps:
                return frozenset()
            self.firewall.render()
            return self._affected(container_id, eps[0]["container_name"], eps)

    def rename(self, container_id: str, name: str) -> frozenset[str]:
        with self.svc.lock:
            eps = self.svc.records.endpoints(container_id=container_id)
            for ep in eps:
                ep["container_name"] = name
                self.svc.records.update_endpoint(ep)
            return self._affected(container_id, name, eps)

    def _affected(self, container_id: str, name: str, eps: list[dict]) -> frozenset[str]:
        nets = {e["network_id"] for e in eps} | \
            {e["network_id"] for e in self.svc.records.endpoints(container_id=container_id)}
        return names.affected(self.svc.records, container_id, name, nets)
