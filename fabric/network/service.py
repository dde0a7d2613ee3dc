"""What every network operation of one host needs, in one place.

The host (HostContext), where network records live, the network settings, the one lock
under which networks and endpoints change (so addresses, the kernel and the firewall
always agree), the plan mode of the request being served (apply, explain, dry-run),
and each network as its driver sees it. The operations sit beside it: networks.py
(create, remove, reconcile), attachments.py (containers on networks),
firewall_rendering.py.
"""

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.network import settings as settingsmod
from fabric.network import slicing, underlay, uplinks
from fabric.network.allocator import AddressAllocator, LocalAllocator, SharedAllocator
from fabric.network.context import LACKING, ClusterStore, HostContext
from fabric.network.driver import NetworkDriver, Tunnels, Uplinks
from fabric.network.model import Endpoint, Network, Peer
from fabric.network.store import NetworkRecords, NetworkStore, found, subnets_of
from fabric.plan import Applier, Context, Plan, Result
from fabric.plan.applier import Mode
from fabric.store.db import Store

BUILTIN = {"host": "host", "none": "null"}   # networks without a driver, as in Docker
MODES = ("apply", "explain", "dry-run")


class _Request(threading.local):
    """The plan mode of the request this thread serves, and where explained lines go."""
    mode: Mode = "apply"
    echo: Callable[[str], None] | None = None


class NetworkService:
    def __init__(self, host: HostContext, store: Store,
                 settings: settingsmod.Settings | None = None):
        self.host = host
        self.store = store
        self.records = NetworkStore(store)           # this host's own records
        self.local_allocator = LocalAllocator(self.records)
        self._settings = settings
        self.lock = threading.RLock()
        self._req = _Request()

    # --- settings and modes ------------------------------------------------------------

    @property
    def settings(self) -> settingsmod.Settings:
        if self._settings is None:
            self._settings = settingsmod.load(self.host.root.settings)
        return self._settings

    def configure(self, overrides: dict) -> None:
        """The daemon's options over the settings file (keys as in settings.json, None
        meaning "not given"); before the daemon starts serving."""
        self._settings = settingsmod.load(self.host.root.settings, overrides)

    @contextmanager
    def mode(self, mode: str = "explain") -> Iterator[list[str]]:
        """Within this block (on this thread) plans are applied, explained or only
        described; explained lines land in the list yielded."""
        if mode not in MODES:
            raise InvalidArgument(f"unknown mode {mode!r}")
        lines: list[str] = []
        old = self._req.mode, self._req.echo
        self._req.mode, self._req.echo = cast(Mode, mode), lines.append
        try:
            yield lines
        finally:
            self._req.mode, self._req.echo = old

    @property
    def dry_run(self) -> bool:
        return self._req.mode == "dry-run"

    @property
    def explaining(self) -> bool:
        """Did the request ask to see the commands (explain or dry-run)?"""
        return self._req.echo is not None and self._req.mode != "apply"

    def explain(self, lines: Sequence[str]) -> None:
        echo = self._req.echo
        if echo is not None:
            for line in lines:
                echo(line)

    def run(self, plan: Plan, fault=None) -> Result:
        with Context(host_ns=self.host.netns, host_root=self.host.root.path) as ctx:
            return Applier(ctx, mode=self._req.mode, echo=self._req.echo,
                           fault=fault).run(plan)

    # --- networks as drivers see them ----------------------------------------------------

    def driver(self, name: str) -> NetworkDriver:
        return self.host.drivers.get(name)

    def has_driver(self, doc: dict) -> bool:
        return doc["driver"] in self.host.drivers

    def model(self, doc: dict) -> Network:
        drv = self.driver(doc["driver"])
        shared = doc.get("shared") or {}
        return Network(id=doc["id"], name=doc["name"], driver=doc["driver"],
                       config=drv.validate(self.driver_options(doc)),
                       ipam=subnets_of(doc), internal=bool(doc.get("internal")),
                       gateway_owned=doc.get("gateway_owned", True),
                       labels=tuple(sorted((doc.get("labels") or {}).items())),
                       options=tuple(sorted((doc.get("options") or {}).items())),
                       span=tuple(s["subnet"] for s in shared.get("ipam", ())),
                       peers=tuple(Peer(**p) for p in shared.get("peers", ())),
                       uplink=uplinks.as_model(doc.get("uplink")),
                       tunnel_id=doc.get("tunnel_id"),
                       underlay=underlay.as_model(doc.get("underlay")))

    def facts(self, doc: dict, endpoints: Sequence[Endpoint] = ()) -> FirewallFacts | None:
        return self.driver(doc["driver"]).firewall_facts(self.model(doc), endpoints)

    def driver_options(self, doc: dict) -> dict:
        opts = driver_part(doc.get("options") or {})
        if doc["driver"] == "bridge":
            # engine-wide settings reach every bridge network without being stored in
            # it, so changing them applies at the next daemon start
            opts.setdefault("ip_forward", str(self.settings.ip_forward).lower())
            opts.update(doc.get("hidden_options") or {})
            if self._is_default(doc) and self.settings.routed_subnets:
                opts["routed_subnets"] = ",".join(self.settings.routed_subnets)
        return opts

    @staticmethod
    def _is_default(doc: dict) -> bool:
        return doc["name"] == settingsmod.DEFAULT_NETWORK and doc.get("scope") != "global"

    def own_interfaces(self, drv: NetworkDriver, options: dict) -> tuple[str, ...]:
        """Host interfaces a new network takes as its own before it exists: those its
        driver would put it behind (a bridge made by hand, e.g. br0 holding the host's
        LAN address) and a NIC it takes over as uplink. Routes through them are not in
        the way of its subnet."""
        cfg = drv.validate(options)
        probe = Network(id="0" * 64, name="", driver=drv.name, config=cfg)
        facts = drv.firewall_facts(probe, ())
        own = list(facts.interfaces) if facts is not None else []
        if isinstance(drv, Uplinks):
            nic = drv.uplink(cfg)
            if nic:
                own.append(nic)
        return tuple(own)

    def take_uplink(self, drv: NetworkDriver, doc: dict) -> None:
        """Record, in a new network's document, the NIC its driver takes over as it is
        now (uplinks.py), before anything moves."""
        if isinstance(drv, Uplinks):
            nic = drv.uplink(drv.validate(self.driver_options(doc)))
            if nic:
                doc["uplink"] = uplinks.capture(self.host.netns, nic, self.host.name)

    # --- where records live --------------------------------------------------------------

    # A global network this host joined has a row in its own store too: its copy of
    # the cluster's record, with this host's slice and the peers it is wired to
    # (shared.py). Endpoints keep their foreign key to a row of this store, and the
    # host rebuilds its kernel side from its own store alone. So the networks a host
    # sees are the rows of its own store; the cluster store holds what hosts share.

    def find_network(self, ref: str) -> dict | None:
        return self.records.find_network(ref)

    def get_network(self, ref: str) -> dict:
        return found(self.find_network(ref), ref)

    def list_networks(self) -> list[dict]:
        return self.records.list_networks()

    def global_networks(self, ids: Collection[str] | None = None) -> list[dict]:
        """This host's rows of the networks it shares with other hosts (`ids`: only
        these), those whose driver is installed."""
        return [d for d in self.list_networks() if d.get("scope") == "global" and
                self.has_driver(d) and (ids is None or d["id"] in ids)]

    def cluster(self) -> ClusterStore:
        if self.host.cluster is None:
            raise InvalidArgument(f"host {self.host.name} shares no cluster store (set "
                                  "cluster-store in its settings)")
        return self.host.cluster

    def offers(self, drv: NetworkDriver) -> None:
        """Refuse a driver that needs what this host lacks, naming it."""
        missing = sorted(drv.requires - self.host.capabilities)
        said = [LACKING[m] for m in missing if m in LACKING]
        if said:
            raise InvalidArgument(f"network driver {drv.name!r}: {said[0]}")
        if missing:
            raise InvalidArgument(f"network driver {drv.name!r} needs {', '.join(missing)}, "
                                  f"which host {self.host.name} does not offer")

    def records_for(self, drv: NetworkDriver) -> NetworkRecords:
        """Where a new network of this driver is recorded: its scope decides."""
        if drv.scope == "local":
            return self.records
        if self.host.cluster is None:
            raise InvalidArgument(f"network driver {drv.name!r} makes global networks, which "
                                  f"live in a cluster store, and host {self.host.name} "
                                  "shares none")
        return self.host.cluster.networks

    def allocator_for(self, net: dict) -> AddressAllocator:
        """Who hands out addresses on a network: its scope decides, as for its record."""
        if net.get("scope", "local") == "local":
            return self.local_allocator
        if self.host.cluster is None:
            raise InvalidArgument(f"network {net['name']} is global and host "
                                  f"{self.host.name} shares no cluster store")
        return SharedAllocator(self.host.cluster, self.records, self.host.name,
                               self.vtep(net))

    def vtep(self, net: dict) -> tuple[str | None, str | None]:
        """This host's tunnel end on a global network, which the endpoint registry
        publishes beside each of its endpoints: (underlay address, tunnel MAC)."""
        drv = self.driver(net["driver"]) if self.has_driver(net) else None
        mac = drv.vtep_mac(self.model(net)) if isinstance(drv, Tunnels) else None
        return self.host.underlay, mac

    def default_network(self) -> dict | None:
        return self.find_network(settingsmod.DEFAULT_NETWORK) if \
            not self.settings.default_disabled else None


def driver_part(options: dict) -> dict:
    """A network's options without those the network core takes itself (slicing)."""
    return {k: v for k, v in options.items() if k not in slicing.OPTIONS}
