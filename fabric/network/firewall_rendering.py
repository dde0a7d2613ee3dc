"""The host's firewall, rendered whole from the network core's records after each change,
and the users' own rules, which change it too.

One backend object per host for the core's life: it remembers what it last committed,
so the next change can be a small element delta instead of a full replace
(fabric/firewall/nft.py), and reuses its validation memo.
"""

from fabric.firewall.backend import FirewallBackend, get_backend
from fabric.firewall.intent import EndpointIntent, FirewallIntent
from fabric.firewall.intent_words import IntentWords, Names
from fabric.network import firewall_intent, registry
from fabric.network.endpoints import as_model
from fabric.network.service import NetworkService
from fabric.network.user_rules import UserRules


class FirewallRendering:
    def __init__(self, svc: NetworkService):
        self.svc = svc
        self.rules = UserRules(svc.store)
        self._backends: dict[str, FirewallBackend] = {}

    def intent(self) -> FirewallIntent:
        svc = self.svc
        endpoints = svc.records.endpoints()
        by_network: dict[str, list[dict]] = {}
        for e in endpoints:
            by_network.setdefault(e["network_id"], []).append(e)
        nets = []
        remote: list[EndpointIntent] = []
        for doc in svc.list_networks():
            if not svc.has_driver(doc):
                continue
            facts = svc.facts(doc, [as_model(e) for e in by_network.get(doc["id"], ())])
            if facts is not None:
                nets.append((doc, facts))
            if facts is not None and facts.tunnel is not None:
                # containers on other hosts, as programmed here: checked on the tunnel
                remote += [EndpointIntent(doc["id"], r.container, facts.tunnel, r.ip, r.mac)
                           for r in registry.programmed(doc)]
        default = svc.default_network()
        return firewall_intent.build(networks=nets, endpoints=endpoints,
                                     user_rules=self.rules.list(),
                                     enabled=svc.settings.iptables,
                                     default_network_id=default["id"] if default else None,
                                     remote=tuple(remote))

    def words(self, intent: FirewallIntent | None = None,
              addresses: dict[str, str] | None = None) -> IntentWords:
        """The intent in words (firewall show, trace, doctor), with the containers'
        names and their links' aliases, which the intent itself does not hold;
        `addresses`: names the caller knows for addresses beyond this host's records."""
        endpoints = self.svc.records.endpoints()
        ids = {e["container_name"]: e["container_id"] for e in endpoints}
        aliases = {(e["container_id"], ids[name]): alias for e in endpoints
                   for name, alias in e.get("links", ()) if name in ids}
        # containers on other hosts by the names the endpoint registry gives them
        names = {r.container: r.name for doc in self.svc.list_networks()
                 for r in registry.programmed(doc)}
        names.update({e["container_id"]: e["container_name"] for e in endpoints})
        return IntentWords(intent or self.intent(), Names(names, aliases, addresses or {}))

    def backend(self) -> FirewallBackend:
        """The host's backend, one object for the core's life (see above)."""
        name = self.svc.settings.firewall_backend
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = get_backend(name, netns=self.svc.host.netns)
        return backend

    def render(self, force: bool = False) -> None:
        """Replace fabric's firewall tables with what the records say, in one go; in an
        explained request the commands are told first, in a dry run only told. `force`
        rebuilds them whole (fabric doctor --fix, after someone changed them)."""
        svc = self.svc
        backend = self.backend()
        intent = self.intent()
        if svc.explaining:
            svc.explain(backend.describe(intent))
            if svc.dry_run:
                return
        backend.apply(intent, force=force)

    # --- users' rules ------------------------------------------------------------------

    def add_rule(self, body: dict) -> dict:
        """Add a rule and re-render; a rule the firewall refuses is not kept, nor is
        one added in a dry run."""
        with self.svc.lock:
            rule = self.rules.add(body)
            try:
                self.render()
            except BaseException:
                self.rules.remove(rule["id"])
                raise
            if self.svc.dry_run:
                self.rules.remove(rule["id"])
        return rule

    def remove_rule(self, ref: str) -> dict:
        with self.svc.lock:
            if self.svc.dry_run:
                hit = self.rules.find(ref)
                self.render()
                return hit
            hit = self.rules.remove(ref)
            self.render()
        return hit
