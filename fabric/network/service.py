"""Networks: create, remove, reconcile, and the firewall rendered after each change.

Holds what every network operation needs (store, driver registry, settings, the host
namespace) and the one lock under which networks and endpoints change, so IPAM, the
kernel and the firewall always agree. Container-facing hooks live in manager.py.
"""

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fabric.errors import Conflict, FabricError, InvalidArgument
from fabric.network import intent as intentmod
from fabric.network import ipam
from fabric.network import settings as settingsmod
from fabric.network.driver import DriverRegistry, NetworkDriver
from fabric.network.model import Network
from fabric.network.store import NetworkStore, subnets_of
from fabric.plan import AddAddress, Applier, Context, Plan, Result

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
BUILTIN = {"host": "host", "none": "null"}   # networks without a driver, as in Docker


class NetworkService:
    def __init__(self, store, settings_path: str, *, host_ns: str | None = None,
                 registry: DriverRegistry | None = None,
                 settings: settingsmod.Settings | None = None):
        self.nets = NetworkStore(store)
        self.store = store
        self.settings_path = settings_path
        self.host_ns = host_ns
        self.registry = registry or DriverRegistry.from_entry_points()
        self._settings = settings
        self.lock = threading.RLock()
        self._req = threading.local()   # explain/dry-run of the current request
        self.running_containers: Callable[[], list[dict]] = lambda: []
        # one firewall backend for the service's life: it remembers what it last
        # committed, so the next change can be a small element delta instead of a
        # full replace (fabric/firewall/nft.py), and reuses its validation memo
        self._backends: dict[str, object] = {}

    # --- settings and modes ------------------------------------------------------------

    @property
    def settings(self) -> settingsmod.Settings:
        if self._settings is None:
            self._settings = settingsmod.load(self.settings_path)
        return self._settings

    @contextmanager
    def mode(self, mode: str = "explain") -> Iterator[list[str]]:
        """Within this block (on this thread) plans are explained or only described;
        the lines land in the list yielded."""
        if mode not in ("apply", "explain", "dry-run"):
            raise InvalidArgument(f"unknown mode {mode!r}")
        lines: list[str] = []
        old = getattr(self._req, "value", None)
        self._req.value = (mode, lines.append)
        try:
            yield lines
        finally:
            self._req.value = old

    @property
    def dry_run(self) -> bool:
        v = getattr(self._req, "value", None)
        return bool(v and v[0] == "dry-run")

    def run(self, plan: Plan, fault=None) -> Result:
        mode, echo = getattr(self._req, "value", None) or ("apply", None)
        with Context(host_ns=self.host_ns) as ctx:
            return Applier(ctx, mode=mode, echo=echo, fault=fault).run(plan)

    # --- models ----------------------------------------------------------------------

    def driver(self, name: str) -> NetworkDriver:
        return self.registry.get(name)

    def has_driver(self, doc: dict) -> bool:
        return doc["driver"] in self.registry

    def model(self, doc: dict) -> Network:
        drv = self.driver(doc["driver"])
        return Network(id=doc["id"], name=doc["name"], driver=doc["driver"],
                       config=drv.validate(self._driver_options(doc)),
                       ipam=subnets_of(doc), internal=bool(doc.get("internal")),
                       gateway_owned=doc.get("gateway_owned", True),
                       labels=tuple(sorted((doc.get("labels") or {}).items())),
                       options=tuple(sorted((doc.get("options") or {}).items())))

    def _driver_options(self, doc: dict) -> dict:
        opts = dict(doc.get("options") or {})
        if doc["driver"] == "bridge":
            # engine-wide settings reach every bridge network without being stored in
            # it, so changing them applies at the next daemon start
            opts.setdefault("ip_forward", str(self.settings.ip_forward).lower())
            opts.update(doc.get("hidden_options") or {})
        return opts

    def bridge_of(self, doc: dict) -> str | None:
        drv = self.driver(doc["driver"])
        fn = getattr(drv, "bridge_name", None)
        return fn(self.model(doc)) if fn else None

    def default_network(self) -> dict | None:
        return self.nets.find_network(settingsmod.DEFAULT_NETWORK) if \
            not self.settings.default_disabled else None

    # --- create / remove ---------------------------------------------------------------

    def create(self, name: str, driver: str = "bridge", *, options: dict | None = None,
               ipam_config: list[dict] | None = None, internal: bool = False,
               labels: dict | None = None, hidden: dict | None = None,
               net_id: str | None = None) -> dict:
        """Validate everything, then insert the network and build it in the kernel;
        a failure leaves neither a row nor a kernel object."""
        if not name or not NAME_RE.fullmatch(name):
            raise InvalidArgument(f"invalid network name {name!r}: only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if driver in BUILTIN.values() or driver == "host":
            raise InvalidArgument(f"only one instance of the {driver} network is allowed")
        drv = self.driver(driver)
        options = {k: str(v) for k, v in (options or {}).items()}
        drv.validate({**options, **(hidden or {})})   # bad options fail before anything
        cfgs = list(ipam_config or [{}])
        if len(cfgs) > 1:
            raise InvalidArgument("only one IPv4 subnet per network is supported")
        want = cfgs[0]
        with self.lock:
            if self.nets.find_network(name) is not None:
                raise Conflict(f"network with name {name} already exists")
            sub = ipam.build(want.get("Subnet") or None, want.get("Gateway") or None,
                             want.get("IPRange") or None, in_use=self.subnets_in_use())
            doc = {"id": net_id or secrets.token_hex(32), "name": name, "driver": driver,
                   "created": time.time(), "scope": drv.scope, "internal": bool(internal),
                   "options": options, "labels": dict(labels or {}),
                   "hidden_options": dict(hidden or {}),
                   "ipam": [{"subnet": sub.subnet, "gateway": sub.gateway,
                             "ip_range": sub.ip_range}],
                   "gateway_owned": True}
            net = self.model(doc)
            plan = drv.plan_create(net)
            if self.dry_run:
                self.run(plan)
                return doc
            self.nets.insert_network(doc)
            try:
                res = self.run(plan)
            except BaseException:
                self.nets.delete_network(doc["id"])
                raise
            doc["gateway_owned"] = self._gateway_owned(plan, res)
            self.nets.update_network(doc)
            self.render_firewall()
        return doc

    @staticmethod
    def _gateway_owned(plan: Plan, res: Result) -> bool:
        """Did fabric add the gateway address, or was it there (a hand-made bridge)?"""
        added = [(op.ifname, op.cidr) for op in plan.ops if isinstance(op, AddAddress)]
        changed = {(op.ifname, op.cidr) for op, _ in res.changed if isinstance(op, AddAddress)}
        return not added or any(a in changed for a in added)

    def subnets_in_use(self) -> list[ipam.InUse]:
        """Other networks' subnets and the host's own routes (a LAN, a VPN), as Docker
        checks, minus routes through fabric's own bridges."""
        used = self.nets.subnets_in_use()
        ours = set()
        for doc in self.nets.list_networks():
            if self.has_driver(doc):
                try:
                    ours.add(self.bridge_of(doc))
                except FabricError:
                    pass
        from fabric.net import routes, rtnl
        with rtnl.rtnl(self.host_ns) as ipr:
            for r in routes.list_routes(ipr):
                if r.dst != "default" and r.dev not in ours and not r.dst.endswith("/32"):
                    used.append(ipam.InUse(r.dst, f"a host route on {r.dev}"))
        return used

    def remove(self, ref: str) -> dict:
        with self.lock:
            doc = self.nets.get_network(ref)
            if doc["name"] in BUILTIN or doc.get("default"):
                raise InvalidArgument(f"{doc['name']} is a pre-defined network and cannot "
                                      "be removed")
            eps = self.nets.endpoints(network_id=doc["id"])
            if eps:
                names = ", ".join(sorted(e.get("container_name") or e["container_id"][:12]
                                         for e in eps))
                raise Conflict(f"error while removing network: network {doc['name']} id "
                               f"{doc['id']} has active endpoints ({names})")
            plan = self.driver(doc["driver"]).plan_delete(self.model(doc))
            if self.dry_run:
                self.run(plan)
                return doc
            self.run(plan)
            self.nets.delete_network(doc["id"])
            self.render_firewall()
        return doc

    # --- reconcile ---------------------------------------------------------------------

    def ensure_builtin(self) -> None:
        for name, driver in BUILTIN.items():
            if self.nets.find_network(name) is None:
                self.nets.insert_network({"id": secrets.token_hex(32), "name": name,
                                          "driver": driver, "created": time.time(),
                                          "scope": "local", "internal": False,
                                          "options": {}, "labels": {}, "ipam": []})

    def ensure_default(self) -> dict | None:
        """The default bridge from the settings, re-made when they changed and no
        container uses it."""
        s = self.settings
        if s.default_disabled:
            return None
        want_opts, want_ipam, hidden = self._default_spec()
        doc = self.nets.find_network(settingsmod.DEFAULT_NETWORK)
        if doc is not None:
            same = doc.get("hidden_options") == hidden and \
                doc.get("options") == want_opts and \
                (want_ipam is None or [want_ipam] == [
                    {k: v for k, v in i.items() if v} for i in doc.get("ipam", [])])
            if same or self.nets.endpoints(network_id=doc["id"]):
                return doc
            log.info("default bridge settings changed: re-creating it")
            self.run(self.driver("bridge").plan_delete(self.model(doc)))
            self.nets.delete_network(doc["id"])
        cfg = [{"Subnet": want_ipam["subnet"], "Gateway": want_ipam["gateway"],
                "IPRange": want_ipam.get("ip_range")}] if want_ipam else None
        doc = self.create(settingsmod.DEFAULT_NETWORK, "bridge", options=want_opts,
                          ipam_config=cfg, hidden=hidden)
        doc["default"] = True
        self.nets.update_network(doc)
        return doc

    def _default_spec(self) -> tuple[dict, dict | None, dict]:
        s = self.settings
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
        with rtnl.rtnl(self.host_ns) as ipr:
            for a in addrs.list_addrs(ipr, bridge):
                if ":" not in a.address:
                    c = ipam.from_bip(a.cidr, fixed_cidr)
                    return {"subnet": c.subnet, "gateway": c.gateway, "ip_range": c.ip_range}
        return None

    def reconcile(self) -> None:
        """Make the kernel match the store again (after a reboot or a flush)."""
        for doc in self.nets.list_networks():
            if not self.has_driver(doc):
                continue
            try:
                self.run(self.driver(doc["driver"]).plan_create(self.model(doc)))
            except FabricError as e:
                log.warning("network %s: %s", doc["name"], e)

    # --- firewall ----------------------------------------------------------------------

    def intent(self):
        nets = []
        for doc in self.nets.list_networks():
            if not self.has_driver(doc):
                continue
            bridge = self.bridge_of(doc)
            if bridge:
                nets.append((doc, bridge, self.model(doc).config))
        default = self.default_network()
        rules = [json.loads(r["doc"]) for r in
                 self.store.query("SELECT doc FROM firewall_rules ORDER BY position")]
        return intentmod.build(networks=nets, endpoints=self.nets.endpoints(),
                               containers=self.running_containers(), user_rules=rules,
                               enabled=self.settings.iptables,
                               default_network_id=default["id"] if default else None)

    def render_firewall(self) -> None:
        """Replace fabric's firewall tables with what the store says, in one go."""
        try:
            from fabric.firewall.backend import get_backend
        except ImportError:
            log.debug("no firewall backend installed yet")
            return
        name = self.settings.firewall_backend
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = _backend(get_backend, name, self.host_ns)
        intent = self.intent()
        if self.dry_run or getattr(self._req, "value", None):
            text = getattr(backend, "describe", None)
            mode, echo = self._req.value
            if text is not None:
                for line in _lines(text(intent)):
                    echo(line)
            if mode == "dry-run":
                return
        backend.apply(intent)


def _backend(get_backend, name: str, host_ns: str | None):
    try:
        return get_backend(name, netns=host_ns)
    except TypeError as e:
        if host_ns is not None:
            raise FabricError("the firewall backend cannot work in another namespace") from e
        return get_backend(name)


def _lines(text) -> list[str]:
    if isinstance(text, str):
        return [text]
    return list(text)

