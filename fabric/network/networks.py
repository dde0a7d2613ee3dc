"""Networks: create, remove, prune, reconcile, and the default bridge from the settings.

Every change validates everything first, then records the network where its driver's
scope says and builds it in the kernel; a failure leaves neither a record nor a
kernel object. The firewall is rendered after each change.
"""

import logging
import re
import secrets
import time
from collections.abc import Collection

from fabric.errors import Conflict, FabricError, InvalidArgument
from fabric.network import ipam
from fabric.network import settings as settingsmod
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.inspect import network_json
from fabric.network.service import BUILTIN, NetworkService
from fabric.network.shared import SharedNetworks
from fabric.plan import AddAddress, Plan, Result

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class Networks:
    def __init__(self, svc: NetworkService, firewall: FirewallRendering):
        self.svc = svc
        self.firewall = firewall
        self.shared = SharedNetworks(svc, firewall, self.subnets_in_use)

    # --- the API -------------------------------------------------------------------------

    def create(self, name: str, driver: str = "bridge", *, options: dict | None = None,
               ipam_config: list[dict] | None = None, internal: bool = False,
               labels: dict | None = None, hidden: dict | None = None) -> dict:
        """Validate everything, then record the network and build it in the kernel."""
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
        cfgs = list(ipam_config or [{}])
        if len(cfgs) > 1:
            raise InvalidArgument("only one IPv4 subnet per network is supported")
        want = cfgs[0]
        with svc.lock:
            # by name only: a name that happens to prefix another network's id is free
            if any(d["name"] == name for d in svc.list_networks()):
                raise Conflict(f"network with name {name} already exists")
            sub = ipam.build(want.get("Subnet") or None, want.get("Gateway") or None,
                             want.get("IPRange") or None, in_use=self.subnets_in_use(
                                 svc.own_interfaces(drv, {**options, **(hidden or {})})))
            doc: dict = {"id": secrets.token_hex(32), "name": name, "driver": driver,
                   "created": time.time(), "scope": drv.scope, "internal": bool(internal),
                   "options": options, "labels": dict(labels or {}),
                   "hidden_options": dict(hidden or {}),
                   "ipam": [{"subnet": sub.subnet, "gateway": sub.gateway,
                             "ip_range": sub.ip_range}],
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
            doc["gateway_owned"] = _gateway_owned(plan, res)
            records.update_network(doc)
            self.firewall.render()
        return doc

    def remove(self, ref: str) -> dict:
        svc = self.svc
        with svc.lock:
            doc = svc.get_network(ref)
            if doc["name"] in BUILTIN or doc.get("default"):
                raise InvalidArgument(f"{doc['name']} is a pre-defined network and cannot "
                                      "be removed")
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
            self.firewall.render()
        return doc

    def prune(self, in_use: Collection[str]) -> list[str]:
        """Remove the user's networks no container names (`in_use`) and none is on."""
        removed = []
        for net in self.svc.list_networks():
            if net["name"] in BUILTIN or net.get("default") or net["name"] in in_use:
                continue
            if self.svc.records.endpoints(network_id=net["id"]):
                continue
            self.remove(net["id"])
            removed.append(net["name"])
        return removed

    def inspect(self, ref: str, containers: bool = True) -> dict:
        doc = self.svc.get_network(ref)
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

    # --- at daemon start -------------------------------------------------------------------

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
                return doc
            log.info("default bridge settings changed: re-creating it")
            svc.run(svc.driver("bridge").plan_delete(svc.model(doc)))
            svc.records.delete_network(doc["id"])
        cfg = [{"Subnet": want_ipam["subnet"], "Gateway": want_ipam["gateway"],
                "IPRange": want_ipam.get("ip_range")}] if want_ipam else None
        doc = self.create(settingsmod.DEFAULT_NETWORK, "bridge", options=want_opts,
                          ipam_config=cfg, hidden=hidden)
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

    def reconcile(self) -> None:
        """Make the kernel match the records again (after a reboot or a flush)."""
        svc = self.svc
        for doc in svc.list_networks():
            if not svc.has_driver(doc):
                continue
            try:
                svc.run(svc.driver(doc["driver"]).plan_create(svc.model(doc)))
            except FabricError as e:
                log.warning("network %s: %s", doc["name"], e)


def _gateway_owned(plan: Plan, res: Result) -> bool:
    """Did fabric add the gateway address, or was it there (a hand-made bridge)?"""
    added = [(op.ifname, op.cidr) for op in plan.ops if isinstance(op, AddAddress)]
    changed = {(op.ifname, op.cidr) for op, _ in res.changed if isinstance(op, AddAddress)}
    return not added or any(a in changed for a in added)
