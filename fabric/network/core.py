"""The network core of one host: what the engine holds and calls, and nothing above it.

It is built from a HostContext and the host's store, with no engine: networks
(networks.py), containers on them (attachments.py), the firewall
(firewall_rendering.py) and the names each container resolves (names.py) all work
from the core's own records and from the plain requests the engine passes in
(requests.py). The engine's adapter (fabric/engine/networking.py) turns container
documents into those requests.
"""

from collections.abc import Collection
from contextlib import AbstractContextManager

from fabric.network import names, registry
from fabric.network import settings as settingsmod
from fabric.network.attachments import Attachments
from fabric.network.context import HostContext
from fabric.network.endpoints import Endpoints
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.names import Line
from fabric.network.networks import Networks
from fabric.network.reconcile import EndpointReconcile
from fabric.network.requests import Membership, Reconciled
from fabric.network.service import BUILTIN, NetworkService
from fabric.store.db import Store


class NetworkCore:
    def __init__(self, host: HostContext, store: Store,
                 settings: settingsmod.Settings | None = None):
        self.svc = NetworkService(host, store, settings)
        self.firewall = FirewallRendering(self.svc)
        self.networks = Networks(self.svc, self.firewall)
        self.endpoints = Endpoints(self.svc)
        self.attachments = Attachments(self.svc, self.endpoints, self.firewall)

    @property
    def host(self) -> HostContext:
        return self.svc.host

    def start(self, members: Collection[Membership]) -> Reconciled:
        """At daemon start: built-in networks, the default bridge, the kernel made to
        match the records, endpoints made to agree with `members` (every container
        there is, as its document says) and with the kernel (reconcile.py), the
        firewall rendered."""
        with self.svc.lock:
            self.networks.start()
            got = EndpointReconcile(self.svc, self.endpoints).run(members)
            self.firewall.render()
        return got

    def configure(self, overrides: dict) -> None:
        self.svc.configure(overrides)

    def mode(self, mode: str = "explain") -> AbstractContextManager[list[str]]:
        """`with core.mode("dry-run") as lines:` around any change."""
        return self.svc.mode(mode)

    def driver_names(self) -> list[str]:
        return sorted(set(self.host.drivers.names()) | set(BUILTIN.values()))

    # --- what a container sees -------------------------------------------------------------

    def hosts_lines(self, container_id: str, memo: dict | None = None
                    ) -> tuple[list[Line], list[Line]]:
        """(the container's own lines, the names it resolves) for its /etc/hosts.
        `memo`, shared by the calls of one refresh of many containers, reads each
        network and its other hosts' endpoints once (a network spanning hosts lists
        them all, and every one of its containers here needs them)."""
        svc = self.svc
        memo = {} if memo is None else memo
        mine = sorted(svc.records.endpoints(container_id=container_id),
                      key=lambda e: e["ifname"])
        default = svc.default_network()
        user_defined = set()
        remote = {}
        for nid in {e["network_id"] for e in mine}:
            if nid not in memo:
                net = svc.find_network(nid)
                memo[nid] = None if net is None or net.get("default") else \
                    registry.programmed(net)
            if memo[nid] is not None:
                user_defined.add(nid)
                remote[nid] = memo[nid]
        lines = names.link_lines(svc.records, default["id"] if default else None, mine)
        lines += names.peer_lines(svc.records, user_defined, mine)
        lines += names.remote_lines(remote, user_defined, mine)
        return names.own_lines(mine), lines

    def default_address(self, container_id: str) -> str | None:
        """The container's address on the default bridge, if it is on it."""
        default = self.svc.default_network()
        if default is None:
            return None
        for ep in self.svc.records.endpoints(network_id=default["id"],
                                             container_id=container_id):
            return ep["address"].split("/")[0]
        return None
