"""Networks: create, remove, prune, reconcile, and the default bridge from the settings.

Every change validates everything first, then records the network where its driver's
scope says and builds it in the kernel; a failure leaves neither a record nor a
kernel object. The firewall is rendered after each change.
"""

import functools
import logging
import re
import secrets
import time
from collections.abc import Callable, Collection

from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound
from fabric.network import ipam
from fabric.network import settings as settingsmod
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.inspect import network_json
from fabric.network.leftovers import Adopted, default_bridge
from fabric.network.service import BUILTIN, NetworkService
from fabric.network.shared import SharedNetworks
from fabric.plan import AddAddress, Plan, Result

log = logging.getLogger(__name__)

# the containers whose documents name a network (the engine knows; the core does not)
Users = Callable[[dict], list[str]]

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class Networks:
    def __init__(self, svc: NetworkService, firewall: FirewallRendering):
        self.svc = svc
        # networks that could not come up (by name), and why: every use says so
        self.down: dict[str, str] = {}
        self.firewall = firewall
        self.shared = SharedNetworks(svc, firewall, self.subnets_in_use)

    # --- the API -------------------------------------------------------------------------

    def create(self, name: str, driver: str = "bridge", *, options: dict | None = None,
               ipam_config: list[dict] | None = None, internal: bool = False,
               labels: dict | None = None, hidden: dict | None = None,
               adopt: Adopted | None = None) -> dict:
        """Validate everything, then record the network and build it in the kernel;
        `adopt`: a bridge that becomes this network's own (leftovers.py)."""
        svc = self.svc
        if not name or not NAME_RE.fullmatch(name):
            raise InvalidArgument(f"invalid network name {name!r}: only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if driver in BUILTIN.values() or driver == "host":
            raise InvalidArgument(f"only one instance of the {driver} network is allowed")
        drv = svc.driver(driver)
        svc.offers(drv)
        records = svc.records_for(drv)
        options = {k: str(v) for k, v in (options or {}).items()}
        if self.shared.wanted(drv, options):     # one the hosts of a cluster share
            return self.shared.create(name, drv, options=options, ipam_config=ipam_config,
                                      internal=internal, labels=dict(labels or {}))
        drv.validate({**options, **(hidden or {})})   # bad options fail before anything
        with svc.lock:
            # by name only: a name that happens to prefix another network's id is free
            if any(d["name"] == name for d in svc.list_networks()):
                raise Conflict(f"network with name {name} already exists")
            own = svc.own_interfaces(drv, {**options, **(hidden or {})})
            subs = ipam.build_all(ipam_config or [], in_use=self.subnets_in_use(
                (*own, *([adopt.bridge] if adopt else []))))
            nid = adopt.id_prefix + secrets.token_hex(26) if adopt else secrets.token_hex(32)
            doc: dict = {"id": nid, "name": name, "driver": driver,
                   "created": time.time(), "scope": drv.scope, "internal": bool(internal),
                   "options": options, "labels": dict(labels or {}),
                   "hidden_options": dict(hidden or {}),
                   "ipam": [{"subnet": sub.subnet, "gateway": sub.gateway,
                             "ip_range": sub.ip_range} for sub in subs],
                   "gateway_owned": True}
            svc.take_uplink(drv, doc)
            plan = drv.plan_create(svc.model(doc))
            if svc.dry_run:
                svc.run(plan)
                return doc
            records.insert_network(doc)
            try:
                res = svc.run(plan)
            except BaseException:
                records.delete_network(doc["id"])
                raise
            doc["gateway_owned"] = adopt is not None or _gateway_owned(plan, res)
            records.update_network(doc)
            self.firewall.render()
        return doc

    def remove(self, ref: str, users: Users = lambda net: []) -> dict:
        """Remove a network no endpoint is on and, `users` says, no container names
        (asked under the lock, so no connect slips in between)."""
        svc = self.svc
        with svc.lock:
            doc = svc.get_network(ref)
            if doc["name"] in BUILTIN or doc.get("default"):
                raise InvalidArgument(f"{doc['name']} is a pre-defined network and cannot "
                                      "be removed")
            named = users(doc)   # stopped containers too: their start would fail
            if named:
                raise Conflict(f"error while removing network: network {doc['name']} id "
                               f"{doc['id']} has active endpoints ({', '.join(sorted(named))})")
            eps = svc.records.endpoints(network_id=doc["id"])
            if eps:
                names = ", ".join(sorted(e.get("container_name") or e["container_id"][:12]
                                         for e in eps))
                raise Conflict(f"error while removing network: network {doc['name']} id "
                               f"{doc['id']} has active endpoints ({names})")
            if doc.get("scope") == "global":
                return self.shared.remove(doc)
            plan = svc.driver(doc["driver"]).plan_delete(svc.model(doc))
            svc.run(plan)
            if svc.dry_run:
                return doc
            svc.records_for(svc.driver(doc["driver"])).delete_network(doc["id"])
            self.down.pop(doc["name"], None)
            self.firewall.render()
        return doc

    def prune(self, users: Users = lambda net: []) -> list[str]:
        """Remove the user's networks no container is on or names (`users`)."""
        removed = []
        for net in self.svc.list_networks():
            if net["name"] in BUILTIN or net.get("default"):
                continue
            try:
                self.remove(net["id"], users)
            except Conflict:
                continue
            removed.append(net["name"])
        return removed

    def inspect(self, ref: str, containers: bool = True) -> dict:
        doc = self.get(ref)
        eps = self.svc.records.endpoints(network_id=doc["id"]) if containers else []
        return network_json(doc, eps)

    def list_json(self) -> list[dict]:
        return [network_json(d, []) for d in self.svc.list_networks()]

    def subnets_in_use(self, own: Collection[str] = ()) -> list[ipam.InUse]:
        """Other networks' subnets and the host's own routes (a LAN, a VPN), as Docker
        checks, minus routes through fabric's own interfaces and through `own`, those
        the new network takes as its own (service.own_interfaces)."""
        svc = self.svc
        used = [ipam.InUse(s["subnet"], f"network {d['name']}")
                for d in svc.list_networks() for s in d.get("ipam", ())]
        ours: set[str] = set(own)
        for doc in svc.list_networks():
            if svc.has_driver(doc):
                try:
                    facts = svc.facts(doc)
                except FabricError:
                    continue
                ours.update(facts.interfaces if facts else ())
        from fabric.net import routes, rtnl
        with rtnl.rtnl(svc.host.netns) as ipr:
            for r in routes.list_routes(ipr):
                if r.dst != "default" and r.dev not in ours and not r.dst.endswith("/32"):
                    used.append(ipam.InUse(r.dst, f"a host route on {r.dev}"))
        return used

    # --- networks that could not come up ---------------------------------------------

    def find(self, ref: str) -> dict | None:
        """The network `ref` names, as the store has it; one that could not come up is
        tried again first, and when it still cannot, the error says why."""
        svc = self.svc
        doc = svc.find_network(ref)
        name = doc["name"] if doc is not None else ref
        if name not in self.down:
            return doc
        with svc.lock:
            if name in self.down and not self._try(name, lambda: self._bring_up(name, doc)):
                # not found, as for any network that is not there, and why
                raise NotFound(f"network {name} is not available: {self.down[name]}")
        return svc.find_network(ref)

    def get(self, ref: str) -> dict:
        return self.find(ref) or self.svc.get_network(ref)   # NotFound, as any lookup

    def _bring_up(self, name: str, doc: dict | None) -> None:
        if doc is None:
            self.ensure_default()
        else:
            self.svc.run(self.svc.driver(doc["driver"]).plan_create(self.svc.model(doc)))

    def _try(self, name: str, bring_up: Callable[[], object]) -> bool:
        """Bring a network up; when it cannot, remember why (the daemon still serves:
        other networks work, and uses of this one say what is wrong)."""
        try:
            bring_up()
        except FabricError as e:
            default = name == settingsmod.DEFAULT_NETWORK
            log.error("%s: %s", "default bridge" if default else f"network {name}", e)
            self.down[name] = str(e)
            return False
        self.down.pop(name, None)
        return True

    # --- at daemon start -------------------------------------------------------------------

    def start(self) -> None:
        """Built-in networks, the default bridge, and the kernel made to match every
        network's record (after a reboot or a flush)."""
        svc = self.svc
        self.ensure_builtin()
        self._try(settingsmod.DEFAULT_NETWORK, self.ensure_default)
        for doc in svc.list_networks():
            if svc.has_driver(doc) and not doc.get("default"):
                self._try(doc["name"], functools.partial(self._bring_up, doc["name"], doc))

    def ensure_builtin(self) -> None:
        for name, driver in BUILTIN.items():
            if self.svc.records.find_network(name) is None:
                self.svc.records.insert_network({
                    "id": secrets.token_hex(32), "name": name, "driver": driver,
                    "created": time.time(), "scope": "local", "internal": False,
                    "options": {}, "labels": {}, "ipam": []})

    def ensure_default(self) -> dict | None:
        """The default bridge from the settings, re-made when they changed and no
        container uses it."""
        svc = self.svc
        if svc.settings.default_disabled:
            return None
        want_opts, want_ipam, hidden = self._default_spec()
        doc = svc.records.find_network(settingsmod.DEFAULT_NETWORK)
        if doc is not None:
            same = doc.get("hidden_options") == hidden and \
                doc.get("options") == want_opts and \
                (want_ipam is None or [want_ipam] == [
                    {k: v for k, v in i.items() if v} for i in doc.get("ipam", [])])
            if same or svc.records.endpoints(network_id=doc["id"]):
                svc.run(svc.driver("bridge").plan_create(svc.model(doc)))
                return doc
            log.info("default bridge settings changed: re-creating it")
            svc.run(svc.driver("bridge").plan_delete(svc.model(doc)))
            svc.records.delete_network(doc["id"])
        cfg = [{"Subnet": want_ipam["subnet"], "Gateway": want_ipam["gateway"],
                "IPRange": want_ipam.get("ip_range")}] if want_ipam else None
        left = None
        if want_ipam and not svc.settings.bridge:   # -b names the user's own bridge
            plen = want_ipam["subnet"].split("/")[1]
            left = default_bridge(svc.host.netns, svc.settings.default_bridge,
                                  f"{want_ipam['gateway']}/{plen}",
                                  [n["id"] for n in svc.list_networks()])
            if left is not None:
                log.info("adopting %s, left by an earlier root", left.bridge)
        doc = self.create(settingsmod.DEFAULT_NETWORK, "bridge", options=want_opts,
                          ipam_config=cfg, hidden=hidden, adopt=left)
        doc["default"] = True
        svc.records.update_network(doc)
        return doc

    def _default_spec(self) -> tuple[dict, dict | None, dict]:
        s = self.svc.settings
        b = "com.docker.network.bridge."
        opts = {b + "default_bridge": "true", b + "name": s.default_bridge,
                b + "enable_icc": str(s.icc).lower(),
                b + "enable_ip_masquerade": str(s.ip_masq).lower()}
        if s.mtu:
            opts["com.docker.network.driver.mtu"] = str(s.mtu)
        hidden = {"bridge.existing": "true"} if s.bridge else {}
        sub = None
        if s.bip:
            c = ipam.from_bip(s.bip, s.fixed_cidr)
            sub = {"subnet": c.subnet, "gateway": c.gateway, "ip_range": c.ip_range}
        elif s.bridge:
            sub = self._existing_bridge_subnet(s.bridge, s.fixed_cidr)
        if sub is None:
            c = ipam.build(ipam.DEFAULT_BRIDGE_SUBNET, ip_range=s.fixed_cidr)
            sub = {"subnet": c.subnet, "gateway": c.gateway, "ip_range": c.ip_range}
        return opts, {k: v for k, v in sub.items() if v}, hidden

    def _existing_bridge_subnet(self, bridge: str, fixed_cidr: str | None) -> dict | None:
        """Docker's -b br0 takes the bridge's own IPv4 address as the gateway."""
        from fabric.net import addrs, rtnl
        with rtnl.rtnl(self.svc.host.netns) as ipr:
            for a in addrs.list_addrs(ipr, bridge):
                if ":" not in a.address:
                    c = ipam.from_bip(a.cidr, fixed_cidr)
                    return {"subnet": c.subnet, "gateway": c.gateway, "ip_range": c.ip_range}
        return None

def _gateway_owned(plan: Plan, res: Result) -> bool:
    """Did fabric add the gateway address, or was it there (a hand-made bridge)?"""
    added = [(op.ifname, op.cidr) for op in plan.ops if isinstance(op, AddAddress)]
    changed = {(op.ifname, op.cidr) for op, _ in res.changed if isinstance(op, AddAddress)}
    return not added or any(a in changed for a in added)
