"""What fabric knows of one host, gathered once for every check: its networks and
endpoints (records), the firewall intent in words, the settings, its containers, and
how to change the kernel the way the network core does (plans, the firewall render).

Built by the daemon (it sees the host's namespace and holds the store); the engine is
not imported: the daemon passes the ids of the root's containers.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fabric.errors import FabricError
from fabric.firewall.intent import FirewallIntent, NetworkIntent
from fabric.firewall.intent_words import IntentWords
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.model import Network
from fabric.network.service import NetworkService
from fabric.network.settings import Settings
from fabric.plan import Plan
from fabric.plan.ops import Op


@dataclass
class Scene:
    svc: NetworkService
    fw: FirewallRendering
    containers: frozenset[str]      # ids of the root's containers
    intent: FirewallIntent
    words: IntentWords
    networks: list[dict]            # every network record of the host's store
    endpoints: list[dict]           # every endpoint record

    @classmethod
    def gather(cls, svc: NetworkService, fw: FirewallRendering,
               containers: frozenset[str]) -> "Scene":
        intent = fw.intent()
        return cls(svc, fw, containers, intent, fw.words(intent), svc.list_networks(),
                   svc.records.endpoints())

    @property
    def host(self) -> str:
        return self.svc.host.name

    @property
    def netns(self) -> str | None:
        return self.svc.host.netns

    @property
    def root(self) -> str:
        return self.svc.host.root.path

    @property
    def settings(self) -> Settings:
        return self.svc.settings

    def models(self) -> Iterator[tuple[dict, Network]]:
        """Each network as its driver sees it (networks whose driver is missing, or
        whose options no longer validate, are skipped: no check can judge them)."""
        for doc in self.networks:
            if self.svc.has_driver(doc):
                try:
                    yield doc, self.svc.model(doc)
                except FabricError:
                    continue

    def forwarding(self) -> list[NetworkIntent]:
        """Networks whose traffic the host forwards: not internal, and (bridge driver)
        not told ip_forward=false."""
        docs = {d["id"]: d for d in self.networks}
        return [n for n in self.intent.networks if not n.internal and
                self.svc.driver_options(docs[n.id]).get("ip_forward", "true") != "false"]

    def own_interfaces(self) -> set[str]:
        return {i for n in self.intent.networks for i in n.facts.interfaces}

    def repairing(self, op: Op, title: str) -> Callable[[], object]:
        """A repair: the step, through the network core's applier, as every kernel
        change fabric makes."""
        return lambda: self.svc.run(Plan((op,), title=title))

    def describe(self, op: Op) -> str:
        """A step as the shell command doing the same: a finding's fix line."""
        return op.describe()
