"""The engine's side of networking: the `engine.network` object the container lifecycle
and the daemon's routes call.

It turns container documents into plain requests for the network core
(network_requests.py), writes what comes back into the documents, saves them where it
changes a container outside its lifecycle (connect, disconnect), and rewrites the
/etc/hosts of the running containers the core names as affected. The network core
never reads a container document. Docker's driverless modes (none, host,
container:NAME) are the engine's own (network_modes.py).

Which networks a container is on has one source of truth, its document: saved last
when a container starts or is connected, first when it is disconnected
(network_connect.py), so that the endpoint reconcile at daemon start
(fabric/network/reconcile.py) can settle whatever a killed daemon left.

Locks: a container's lock, then the network core's, never the other way round.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from fabric.engine import etcfiles, network_modes
from fabric.engine import network_requests as rq
from fabric.engine.network_connect import RUNNING, Connections
from fabric.engine.network_hosts import HostsFiles
from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound
from fabric.network import docker_links, endpoints, ipam
from fabric.network import settings as settingsmod
from fabric.network.context import HostContext
from fabric.network.core import NetworkCore
from fabric.network.firewall_rendering import FirewallRendering
from fabric.network.requests import AttachRequest
from fabric.network.service import BUILTIN

DEFAULT = settingsmod.DEFAULT_NETWORK


class Networking:
    def __init__(self, engine, host: HostContext,
                 settings: settingsmod.Settings | None = None):
        self.engine = engine
        self.core = NetworkCore(host, engine.store, settings)
        self.hosts = HostsFiles(engine, self.core)
        self.connections = Connections(engine, self.core, self.hosts)

    # --- the daemon's ------------------------------------------------------------------

    def configure(self, overrides: dict) -> None:
        """The daemon's global options (--bip, --fixed-cidr, -b/--bridge, --icc,
        --ip-forward, --ip-masq, --iptables, --mtu) over the settings file; before
        start(). Keys as in settings.json, None meaning "not given"."""
        self.core.configure(overrides)

    def start(self) -> None:
        """Before the daemon serves, and before the container reconcile: the core's
        networks and endpoints made to agree with the container documents and the
        kernel (fabric/network/reconcile.py), and each document made to show what its
        container then holds."""
        docs = self.engine.containers.all()
        wanted = {d["Id"]: self._entries(d, self.core.svc.find_network)[0] for d in docs}
        got = self.core.start([
            rq.membership(d, wanted[d["Id"]], d["State"]["Status"] in RUNNING,
                          d["NetworkSettings"].get("SandboxKey") or None
                          if self.owns_sandbox(d) else None) for d in docs])
        for d in docs:
            if rq.show(d, wanted[d["Id"]], got.endpoints.get(d["Id"], {}),
                       d["State"]["Status"] in RUNNING):
                self.engine.containers.save(d)
        self.hosts.refresh(got.affected)

    def stop(self) -> None:
        """Nothing to undo: containers keep their networks while no daemon runs, and
        the next start reconciles."""

    def driver_names(self) -> list[str]:
        return self.core.driver_names()

    def explaining(self, mode: str = "explain") -> AbstractContextManager[list[str]]:
        """`with network.explaining("dry-run") as lines:` around an engine call."""
        return self.core.mode(mode)

    @property
    def settings(self) -> settingsmod.Settings:
        """The network settings in effect (settings.json under the daemon's options)."""
        return self.core.svc.settings

    @property
    def firewall(self) -> FirewallRendering:
        """The host's firewall and its users' rules (the firewall routes)."""
        return self.core.firewall

    def create_network(self, body: dict) -> dict:
        ipam_cfg = (body.get("IPAM") or {}).get("Config") or None
        doc = self.core.networks.create(
            body.get("Name") or "", body.get("Driver") or "bridge",
            options=body.get("Options") or {}, ipam_config=ipam_cfg,
            internal=bool(body.get("Internal")), labels=body.get("Labels") or {})
        return {"Id": doc["id"], "Warning": ""}

    def remove_network(self, ref: str) -> None:
        self.core.networks.remove(ref, users=self._users)

    def prune_networks(self) -> list[str]:
        return self.core.networks.prune(users=self._users)

    def _users(self, net: dict) -> list[str]:
        """The containers whose documents name `net`, running or not: a network goes
        only when none does, or starting them would fail on a network not found."""
        return [doc["Name"].lstrip("/") for doc in self.engine.containers.all()
                if any(es.get("NetworkID") == net["id"] or name == net["name"]
                       for name, es in (doc["NetworkSettings"].get("Networks") or {}).items())]

    def list_networks(self) -> list[dict]:
        return self.core.networks.list_json()

    def inspect_network(self, ref: str) -> dict:
        return self.core.networks.inspect(ref)

    # --- which networks a container is on ----------------------------------------------------

    mode = staticmethod(network_modes.mode)
    owns_sandbox = staticmethod(network_modes.owns_sandbox)

    def _wanted_names(self, mode: str, networking: dict | None) -> list[str]:
        """The networks a container asks for, its primary (--network) first."""
        eps = (networking or {}).get("EndpointsConfig") or {}
        if mode in ("default", DEFAULT):
            primary = None if self.core.svc.settings.default_disabled else DEFAULT
            return ([primary] if primary else []) + [n for n in eps if n not in
                                                     (primary, "default")]
        return [mode] + [n for n in eps if n != mode]

    def validate(self, config: dict, host_config: dict, networking: dict) -> None:
        mode = host_config.get("NetworkMode") or "default"
        eps = (networking or {}).get("EndpointsConfig") or {}
        if network_modes.driverless(mode):
            network_modes.validate(self.engine.containers, mode, host_config, networking)
            if mode == "none":   # its settings follow Docker's rules for a built-in network
                none = self.core.svc.get_network("none")
                for es in eps.values():
                    endpoints.check(none, rq.endpoint_request(none, es or {}))
            return
        nets = []
        for name in self._wanted_names(mode, networking):
            net = self.core.networks.find(name)
            if net is None:
                raise NotFound(f"network {name} not found")
            if net["name"] in BUILTIN:
                raise InvalidArgument(f"container cannot be connected to network {name} "
                                      "beside others")
            endpoints.check(net, rq.endpoint_request(net, eps.get(name) or
                                                     eps.get(net["id"]) or {}))
            nets.append(net)
        if config.get("MacAddress"):
            ipam.parse_mac(config["MacAddress"])
        for spec in host_config.get("Links") or []:
            target, _ = docker_links.parse_link(spec)
            try:
                self.engine.containers.id_of(target)
            except NotFound:
                raise NotFound(f"could not get container for {target}") from None
        for dns in host_config.get("Dns") or []:
            ipam.parse_address(dns, "--dns address")
        for ip, _names in etcfiles.extra_hosts(host_config.get("ExtraHosts")):
            if ":" not in ip:
                ipam.parse_address(ip, "--add-host address")
        for binds in (host_config.get("PortBindings") or {}).values():
            for b in binds or []:
                if b.get("HostIp"):
                    ipam.parse_address(b["HostIp"], "host address in port spec")
        if nets:
            self.core.attachments.publishable(nets[0], rq.publish(config, host_config))

    def created(self, doc: dict) -> None:
        """Record the networks the container asked for (the engine saves the doc)."""
        mode = self.mode(doc)
        if network_modes.driverless(mode):
            doc["NetworkSettings"]["Networks"] = network_modes.networks(mode)
            return
        networking = doc["Fabric"].get("Networking") or {}
        eps = networking.get("EndpointsConfig") or {}
        nets: dict = {}
        for i, ref in enumerate(self._wanted_names(mode, networking)):
            net = self.core.networks.get(ref)
            es = eps.get(ref) or eps.get(net["name"]) or {}
            if i == 0 and not es.get("MacAddress") and doc["Config"].get("MacAddress"):
                es = {**es, "MacAddress": doc["Config"]["MacAddress"]}
            nets[net["name"]] = rq.settings_for(net, es)
        doc["NetworkSettings"]["Networks"] = nets

    def _wanted(self, doc: dict) -> list[tuple[dict, dict]]:
        """(network, its NetworkSettings.Networks entry) for each network with a driver."""
        if not doc["NetworkSettings"].get("Networks"):
            self.created(doc)   # a container made before networks were recorded
        out, missing = self._entries(doc)
        if missing:
            raise NotFound(f"network {missing[0]} not found")
        return out

    def _entries(self, doc: dict, find: Callable[[str], dict | None] | None = None
                 ) -> tuple[list[tuple[dict, dict]], list[str]]:
        """(network, its entry) for the networks with a driver the document names, and
        the names of those that do not exist. `find`: how a network is looked up (by
        default a network that could not come up is tried again, or says why)."""
        find = find or self.core.networks.find
        out, missing = [], []
        for name, es in (doc["NetworkSettings"].get("Networks") or {}).items():
            net = find(es.get("NetworkID") or name) or find(name)
            if net is None:
                missing.append(name)
            elif self.core.svc.has_driver(net):
                out.append((net, es))
        return out, missing

    # --- start and stop --------------------------------------------------------------------

    def sandbox(self, doc: dict) -> str | None:
        return network_modes.sandbox_of(self.engine.containers, doc)

    def attach(self, doc: dict, netns: str | None) -> None:
        if netns is None or not self.owns_sandbox(doc) or self.mode(doc) == "none":
            return
        wanted = self._wanted(doc)
        self._check_links(doc, wanted)
        got = self.core.attachments.attach(AttachRequest(
            rq.member(doc), netns, tuple(rq.endpoint_request(n, es) for n, es in wanted),
            rq.publish(doc["Config"], doc["HostConfig"])))
        if got is None:
            return  # a dry run
        for net, es in wanted:
            rq.fill(doc, net, es, got.endpoints[net["id"]])
        doc["NetworkSettings"]["Ports"] = got.ports
        self.hosts.refresh(got.affected)

    def _link_targets(self, doc: dict) -> Iterator[tuple[str, str, dict | None]]:
        """(target name, alias, target's doc or None) for each of its --link options."""
        for spec in doc["HostConfig"].get("Links") or []:
            name, alias = docker_links.parse_link(spec)
            try:
                yield name, alias, self.engine.containers.get(name)
            except NotFound:
                yield name, alias, None

    def _check_links(self, doc: dict, wanted: list[tuple[dict, dict]]) -> None:
        if not any(net.get("default") for net, _ in wanted):
            return  # on user-defined networks a link is only a name alias
        me = doc["Name"].lstrip("/")
        for name, alias, target in self._link_targets(doc):
            if target is None:
                raise NotFound(f"could not get container for {name}")
            if target["State"]["Status"] not in RUNNING:
                raise Conflict(f"Cannot link to a non running container: /{name} AS "
                               f"/{me}/{alias}")

    def detach(self, doc: dict, sandbox_ending: bool = False) -> None:
        """Take the container off every network; `sandbox_ending` as in the driver API
        (the engine removes the namespace next)."""
        netns = doc["NetworkSettings"].get("SandboxKey") or None
        gone = self.core.attachments.detach(doc["Id"], netns, sandbox_ending)
        rq.clear(doc)
        self.hosts.refresh(gone.affected)
        if gone.errors:
            raise FabricError("; ".join(gone.errors))

    def release(self, doc: dict) -> None:
        self.detach(doc)

    def removed(self, doc: dict) -> None:
        # detach ran at teardown; this catches endpoints of a container removed while
        # its network state was half-made (a crash between join and save)
        self.detach(doc)

    def renamed(self, doc: dict, old: str) -> None:
        self.hosts.refresh(self.core.attachments.rename(doc["Id"], doc["Name"].lstrip("/")))

    # --- what the container sees ------------------------------------------------------------

    def env(self, doc: dict) -> list[str]:
        # Asked while attach may still run beside `runc create`: decide from the
        # networks the container wants, not from its endpoints.
        if network_modes.driverless(self.mode(doc)) or \
                not any(net.get("default") for net, _ in self._wanted(doc)):
            return []
        env: list[str] = []
        me = doc["Name"].lstrip("/")
        for _name, alias, target in self._link_targets(doc):
            if target is None:
                continue
            ip = self.core.default_address(target["Id"])
            if ip:
                env += docker_links.link_env(me, alias, ip, target["Config"].get("ExposedPorts"),
                                             target["Config"].get("Env"))
        return env

    def etc_files(self, doc: dict) -> tuple[str, str]:
        if not self.owns_sandbox(doc) or self.mode(doc) == "none":
            return network_modes.hosts_file(doc), network_modes.resolv_conf(doc)
        return self.hosts.text(doc), network_modes.resolv_conf(doc)

    # --- connect / disconnect ------------------------------------------------------------------

    def connect(self, net_ref: str, container_ref: str, config: dict | None = None) -> None:
        self.connections.connect(net_ref, container_ref, config)

    def disconnect(self, net_ref: str, container_ref: str, force: bool = False) -> None:
        self.connections.disconnect(net_ref, container_ref, force)
