"""What every network operation of one host needs, in one place.

The host (HostContext), where network records live, the network settings, the one lock
under which networks and endpoints change (so addresses, the kernel and the firewall
always agree), the plan mode of the request being served (apply, explain, dry-run),
and each network as its driver sees it. The operations sit beside it: networks.py
(create, remove, reconcile), attachments.py (containers on networks),
firewall_rendering.py.
"""

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallFacts
from fabric.network import settings as settingsmod
from fabric.network.allocator import AddressAllocator, LocalAllocator
from fabric.network.context import HostContext
from fabric.network.driver import NetworkDriver
from fabric.network.model import Endpoint, Network
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
        with Context(host_ns=self.host.netns) as ctx:
            return Applier(ctx, mode=self._req.mode, echo=self._req.echo,
                           fault=fault).run(plan)

    # --- networks as drivers see them ----------------------------------------------------

    def driver(self, name: str) -> NetworkDriver:
        return self.host.drivers.get(name)

    def has_driver(self, doc: dict) -> bool:
        return doc["driver"] in self.host.drivers

    def model(self, doc: dict) -> Network:
        drv = self.driver(doc["driver"])
        return Network(id=doc["id"], name=doc["name"], driver=doc["driver"],
                       config=drv.validate(self._driver_options(doc)),
                       ipam=subnets_of(doc), internal=bool(doc.get("internal")),
                       gateway_owned=doc.get("gateway_owned", True),
                       labels=tuple(sorted((doc.get("labels") or {}).items())),
                       options=tuple(sorted((doc.get("options") or {}).items())))

    def facts(self, doc: dict, endpoints: Sequence[Endpoint] = ()) -> FirewallFacts | None:
        return self.driver(doc["driver"]).firewall_facts(self.model(doc), endpoints)

    def _driver_options(self, doc: dict) -> dict:
        opts = dict(doc.get("options") or {})
        if doc["driver"] == "bridge":
            # engine-wide settings reach every bridge network without being stored in
            # it, so changing them applies at the next daemon start
            opts.setdefault("ip_forward", str(self.settings.ip_forward).lower())
            opts.update(doc.get("hidden_options") or {})
        return opts

    # --- where records live --------------------------------------------------------------

    def _all_records(self) -> list[NetworkRecords]:
        cluster = self.host.cluster
        return [self.records] if cluster is None else [self.records, cluster.networks]

    def find_network(self, ref: str) -> dict | None:
        for records in self._all_records():
            doc = records.find_network(ref)
            if doc is not None:
                return doc
        return None

    def get_network(self, ref: str) -> dict:
        return found(self.find_network(ref), ref)

    def list_networks(self) -> list[dict]:
        return [doc for records in self._all_records() for doc in records.list_networks()]

    def offers(self, drv: NetworkDriver) -> None:
        """Refuse a driver that needs what this host lacks, naming it."""
        missing = sorted(drv.requires - self.host.capabilities)
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
        return self.host.cluster.allocator

    def default_network(self) -> dict | None:
        return self.find_network(settingsmod.DEFAULT_NETWORK) if \
            not self.settings.default_disabled else None
