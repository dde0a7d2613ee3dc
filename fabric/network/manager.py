"""The engine's network manager: the container hooks of BasicNetworking, backed by
drivers, IPAM, the firewall and the hosts files.

The engine calls, for a container:
  validate(config, host_config, networking)  before anything is created (pure checks)
  created(doc)                               records the networks it asked for
  sandbox(doc) -> netns path | None          (BasicNetworking: makes the namespace)
  attach(doc, netns)                         at start: endpoints, ports, firewall
  etc_files(doc) -> (hosts, resolv); env(doc) -> link variables
  detach(doc) / release(doc)                 at stop / after a failed start
  removed(doc), renamed(doc, old)
Everything that changes networks or endpoints runs under the service's one lock;
container locks, when needed, are taken before it, never after.
"""

import logging
import os
import secrets

from fabric.engine import etcfiles
from fabric.engine.basic_network import BasicNetworking
from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound
from fabric.network import hosts as hostsmod
from fabric.network import ipam
from fabric.network import links as linkmod
from fabric.network import ports as portmod
from fabric.network import settings as settingsmod
from fabric.network.model import Endpoint, host_ifname
from fabric.network.service import BUILTIN, NetworkService

log = logging.getLogger(__name__)

DEFAULT = settingsmod.DEFAULT_NETWORK
ENDPOINT_KEYS = ("IPAMConfig", "Links", "Aliases", "MacAddress")


class NetworkManager(BasicNetworking):
    def __init__(self, engine, *, host_ns: str | None = None, registry=None, settings=None):
        super().__init__(engine)
        self.svc = NetworkService(engine.store, engine.root.settings, host_ns=host_ns,
                                  registry=registry, settings=settings)
        self.svc.running_containers = self._attached_docs
        self.nets = self.svc.nets
        self._inflight: dict[str, dict] = {}   # docs being attached, not yet saved

    # --- daemon start ----------------------------------------------------------------

    def stop(self) -> None:
        """Daemon shutdown: containers and networks outlive the daemon."""

    def start(self) -> None:
        with self.svc.lock:
            self.svc.ensure_builtin()
            try:
                self.svc.ensure_default()
            except FabricError as e:
                # the daemon still serves; containers on the default bridge get this
                # error when they start, other networks work
                log.error("default bridge: %s", e)
            self.svc.reconcile()
            self._drop_orphan_endpoints()
            self.svc.render_firewall()

    def _drop_orphan_endpoints(self) -> None:
        """Endpoints of containers that no longer exist (removed while no daemon ran)."""
        for ep in self.nets.endpoints():
            try:
                self.engine.containers.get(ep["container_id"])
            except NotFound:
                self._leave(ep, None)

    def configure(self, overrides: dict) -> None:
        """The daemon's global options (--bip, --fixed-cidr, -b/--bridge, --icc,
        --ip-forward, --ip-masq, --iptables, --mtu) over the settings file; call before
        start(). Keys as in settings.json, None meaning "not given"."""
        self.svc._settings = settingsmod.load(self.svc.settings_path, overrides)

    def driver_names(self) -> list[str]:
        return sorted(set(self.svc.registry.names()) | {"host", "null"})

    def explaining(self, mode: str = "explain"):
        """`with manager.explaining("dry-run") as lines:` around an engine call."""
        return self.svc.mode(mode)

    # --- which networks a container is on --------------------------------------------

    def _primary(self, mode: str) -> str | None:
        if mode in ("default", DEFAULT):
            return None if self.svc.settings.default_disabled else DEFAULT
        return mode

    def validate(self, config: dict, host_config: dict, networking: dict) -> None:
        mode = host_config.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:"):
            super().validate(config, host_config, networking)
            if (networking or {}).get("EndpointsConfig") and mode != "none":
                raise InvalidArgument(f"conflicting options: --network {mode} and "
                                      "per-network settings")
            return
        primary = self._primary(mode)
        eps = (networking or {}).get("EndpointsConfig") or {}
        names = ([primary] if primary else []) + [n for n in eps if n != primary]
        if mode in ("default", DEFAULT):
            names = [n for n in names if n not in ("default",)]
        for name in names:
            net = self.nets.find_network(name)
            if net is None:
                raise NotFound(f"network {name} not found")
            if net["name"] in BUILTIN:
                raise InvalidArgument(f"container cannot be connected to network {name} "
                                      "beside others")
            self._check_endpoint_config(net, eps.get(name) or eps.get(net["id"]) or {})
        if config.get("MacAddress"):
            ipam.parse_mac(config["MacAddress"])
        for spec in host_config.get("Links") or []:
            target, _ = linkmod.parse_link(spec)
            try:
                self.engine.containers.id_of(target)
            except NotFound:
                raise NotFound(f"could not get container for {target}") from None
        for dns in host_config.get("Dns") or []:
            ipam.parse_address(dns, "--dns address")
        for ip, _names in hostsmod.extra_hosts(host_config.get("ExtraHosts")):
            if ":" not in ip:
                ipam.parse_address(ip, "--add-host address")
        self._check_port_ips(host_config)

    def _check_endpoint_config(self, net: dict, es: dict) -> None:
        ip = (es.get("IPAMConfig") or {}).get("IPv4Address")
        user_defined = not net.get("default")
        if ip and not user_defined:
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
        if es.get("Aliases") and not user_defined:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
        if ip:
            addr = ipam.parse_address(ip, "--ip address")
            subnets = net.get("ipam") or []
            if subnets and addr not in ipam.parse_subnet(subnets[0]["subnet"]):
                raise InvalidArgument(f"address {ip} is outside subnet {subnets[0]['subnet']} "
                                      f"of network {net['name']}")
        if es.get("MacAddress"):
            ipam.parse_mac(es["MacAddress"])

    @staticmethod
    def _check_port_ips(host_config: dict) -> None:
        for binds in (host_config.get("PortBindings") or {}).values():
            for b in binds or []:
                if b.get("HostIp"):
                    ipam.parse_address(b["HostIp"], "host address in port spec")

    def created(self, doc: dict) -> None:
        mode = self.mode(doc)
        if mode in ("host", "none") or mode.startswith("container:"):
            return super().created(doc)
        eps = (doc["Fabric"].get("Networking") or {}).get("EndpointsConfig") or {}
        primary = self._primary(mode)
        wanted = ([primary] if primary else []) + [n for n in eps if n != primary]
        nets: dict = {}
        for i, ref in enumerate(wanted):
            net = self.nets.get_network(ref)
            es = eps.get(ref) or eps.get(net["name"]) or {}
            if i == 0 and not es.get("MacAddress") and doc["Config"].get("MacAddress"):
                es = {**es, "MacAddress": doc["Config"]["MacAddress"]}
            nets[net["name"]] = self._settings_for(net, es)
        doc["NetworkSettings"]["Networks"] = nets
        # the engine inserted the row before calling us: keep what we recorded
        save = getattr(self.engine.containers, "save", None)
        if save is not None and doc.get("State"):
            save(doc)

    def _settings_for(self, net: dict, es: dict) -> dict:
        s = self._endpoint_settings()
        s.update({k: es.get(k) for k in ENDPOINT_KEYS if es.get(k)})
        s["NetworkID"] = net["id"]
        return s

    # --- start and stop ----------------------------------------------------------------

    def _wanted(self, doc: dict) -> list[tuple[dict, dict]]:
        if not doc["NetworkSettings"].get("Networks"):
            self.created(doc)   # a container made before networks were recorded
        out = []
        for name, es in (doc["NetworkSettings"].get("Networks") or {}).items():
            net = self.nets.find_network(es.get("NetworkID") or name) or \
                self.nets.find_network(name)
            if net is None:
                raise NotFound(f"network {name} not found")
            if self.svc.has_driver(net):
                out.append((net, es))
        return out

    def attach(self, doc: dict, netns: str | None) -> None:
        if netns is None or not self.owns_sandbox(doc) or self.mode(doc) == "none":
            return
        cid = doc["Id"]
        with self.svc.lock:
            wanted = self._wanted(doc)
            self._check_links(doc, wanted)
            ports = self._resolve_ports(doc, wanted)
            joined: list[dict] = []
            self._inflight[cid] = doc
            try:
                gateway_taken = False
                for i, (net, es) in enumerate(wanted):
                    ep = self._join(doc, net, es, netns, f"eth{i}", not gateway_taken)
                    gateway_taken = gateway_taken or bool(ep["gateway"])
                    joined.append(ep)
                if self.svc.dry_run:
                    return
                for ep, (net, es) in zip(joined, wanted, strict=True):
                    self._fill(doc, net, es, ep)
                doc["NetworkSettings"]["Ports"] = ports
                self.svc.render_firewall()
            except BaseException:
                for ep in reversed(joined):
                    self._leave(ep, netns, quiet=True)
                raise
            finally:
                self._inflight.pop(cid, None)
        self._refresh_peers(doc)

    def _join(self, doc: dict, net: dict, es: dict, netns: str, ifname: str,
              may_route: bool) -> dict:
        model = self.svc.model(net)
        requested = (es.get("IPAMConfig") or {}).get("IPv4Address") or None
        epid = secrets.token_hex(32)
        s = model.ipam[0] if model.ipam else None
        route = may_route and s is not None and not model.internal

        def make(address: str) -> dict:
            return {"id": epid, "network_id": net["id"], "container_id": doc["Id"],
                    "container_name": doc["Name"].lstrip("/"), "ifname": ifname,
                    "address": address, "host_ifname": host_ifname(epid),
                    "mac": ipam.parse_mac(es["MacAddress"]) if es.get("MacAddress")
                    else ipam.mac_from_ip(address) if address else "",
                    "gateway": s.gateway if route else None,
                    "aliases": list(es.get("Aliases") or [])}

        if self.svc.dry_run:
            used = [e["address"] for e in self.nets.endpoints(network_id=net["id"])]
            ep = make(ipam.allocate(s, used, requested, network_name=net["name"]) if s else "")
        else:
            ep = self.nets.create_endpoint(net, doc["Id"], requested, make)
        try:
            self.svc.run(self.svc.driver(net["driver"]).plan_join(model, _ep(ep), netns))
        except BaseException:
            if not self.svc.dry_run:
                self.nets.delete_endpoint(epid)
            raise
        return ep

    def _leave(self, ep: dict, netns: str | None, quiet: bool = False,
               sandbox_ending: bool = False) -> None:
        net = self.nets.find_network(ep["network_id"])
        try:
            if net is not None and self.svc.has_driver(net):
                self.svc.run(self.svc.driver(net["driver"]).plan_leave(
                    self.svc.model(net), _ep(ep), netns or "", sandbox_ending))
        except FabricError as e:
            if not quiet:
                raise
            log.warning("leaving %s: %s", ep["host_ifname"], e)
        finally:
            if not self.svc.dry_run:
                self.nets.delete_endpoint(ep["id"])

    def _fill(self, doc: dict, net: dict, es: dict, ep: dict) -> None:
        ip, _, plen = ep["address"].partition("/")
        es.update(NetworkID=net["id"], EndpointID=ep["id"], Gateway=ep["gateway"] or "",
                  IPAddress=ip, IPPrefixLen=int(plen or 0), MacAddress=ep["mac"])
        if net.get("default"):
            doc["NetworkSettings"].update(Gateway=es["Gateway"], IPAddress=ip,
                                          IPPrefixLen=es["IPPrefixLen"],
                                          MacAddress=ep["mac"], EndpointID=ep["id"])

    def _clear(self, doc: dict) -> None:
        ns = doc["NetworkSettings"]
        for es in (ns.get("Networks") or {}).values():
            es.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, MacAddress=
                      (es.get("MacAddress") if es.get("IPAMConfig") is None else "") or "")
        for key in ("Gateway", "IPAddress", "EndpointID", "MacAddress"):
            if key in ns:
                ns[key] = ""
        if "IPPrefixLen" in ns:
            ns["IPPrefixLen"] = 0
        ns["Ports"] = {}

    def detach(self, doc: dict, sandbox_ending: bool = False) -> None:
        """Take the container off every network; `sandbox_ending` as in the driver API
        (the engine removes the namespace next)."""
        netns = doc["NetworkSettings"].get("SandboxKey") or None
        with self.svc.lock:
            eps = self.nets.endpoints(container_id=doc["Id"])
            errors = []
            for ep in eps:
                try:
                    self._leave(ep, netns, sandbox_ending=sandbox_ending)
                except FabricError as e:
                    errors.append(str(e))
            self._clear(doc)
            if eps:
                self.svc.render_firewall()
        if eps:
            self._refresh_peers(doc, gone=eps)
        if errors:
            raise FabricError("; ".join(errors))

    def release(self, doc: dict) -> None:
        self.detach(doc)

    def removed(self, doc: dict) -> None:
        # detach ran at teardown; this catches endpoints of a container removed while
        # its network state was half-made (a crash between join and save)
        if self.nets.endpoints(container_id=doc["Id"]):
            self.detach(doc)

    def renamed(self, doc: dict, old: str) -> None:
        with self.svc.lock:
            for ep in self.nets.endpoints(container_id=doc["Id"]):
                ep["container_name"] = doc["Name"].lstrip("/")
                self.nets.update_endpoint(ep)
        self._refresh_peers(doc)

    # --- links -------------------------------------------------------------------------

    def _links(self, doc: dict) -> list[tuple[str, str, dict | None]]:
        out = []
        for spec in doc["HostConfig"].get("Links") or []:
            name, alias = linkmod.parse_link(spec)
            try:
                target = self.engine.containers.get(name)
            except NotFound:
                target = None
            out.append((alias, name, target))
        return out

    def _check_links(self, doc: dict, wanted: list[tuple[dict, dict]]) -> None:
        if not any(net.get("default") for net, _ in wanted):
            return  # on user-defined networks a link is only a name alias
        me = doc["Name"].lstrip("/")
        for alias, name, target in self._links(doc):
            if target is None:
                raise NotFound(f"could not get container for {name}")
            if target["State"]["Status"] not in ("running", "paused"):
                raise Conflict(f"Cannot link to a non running container: /{name} AS "
                               f"/{me}/{alias}")

    def _default_ip(self, cid: str) -> str | None:
        default = self.svc.default_network()
        if default is None:
            return None
        for ep in self.nets.endpoints(network_id=default["id"], container_id=cid):
            return ep["address"].split("/")[0]
        return None

    def env(self, doc: dict) -> list[str]:
        # Asked while attach may still run beside `runc create`: decide from the
        # networks the container wants, not from its endpoint rows.
        if self.mode(doc) in ("host", "none") or self.mode(doc).startswith("container:") or \
                not any(net.get("default") for net, _ in self._wanted(doc)):
            return []
        env: list[str] = []
        me = doc["Name"].lstrip("/")
        for alias, _name, target in self._links(doc):
            ip = self._default_ip(target["Id"]) if target else None
            if ip:
                env += linkmod.link_env(me, alias, ip, target["Config"].get("ExposedPorts"),
                                        target["Config"].get("Env"))
        return env

    # --- /etc files ----------------------------------------------------------------------

    def etc_files(self, doc: dict) -> tuple[str, str]:
        if not self.owns_sandbox(doc) or self.mode(doc) == "none":
            return super().etc_files(doc)
        hc = doc["HostConfig"]
        return self.hosts_text(doc), etcfiles.resolv_text(
            hc.get("Dns") or [], hc.get("DnsSearch") or [], hc.get("DnsOptions") or [])

    def hosts_text(self, doc: dict) -> str:
        cid = doc["Id"]
        mine = sorted(self.nets.endpoints(container_id=cid), key=lambda e: e["ifname"])
        hostname = doc["Config"].get("Hostname") or cid[:12]
        own = [(e["address"].split("/")[0], [hostname]) for e in mine if e.get("address")]
        extra = hostsmod.extra_hosts(doc["HostConfig"].get("ExtraHosts"))
        links = self._links(doc)
        if any(e["network_id"] == (self.svc.default_network() or {}).get("id") for e in mine):
            extra += hostsmod.link_lines([(a, n, t, self._default_ip(t["Id"]) if t else None)
                                          for a, n, t in links])
        extra += self._peer_lines(doc, mine, links)
        return etcfiles.hosts_text(own, hostsmod.merge(extra))

    def _peer_lines(self, doc: dict, mine: list[dict], links) -> list[tuple[str, list[str]]]:
        """Everyone else on my user-defined networks, by name and alias, and my links'
        aliases there (Docker's embedded DNS answers these names)."""
        out = []
        aliases_for = {}
        for alias, _name, target in links:
            if target is not None:
                aliases_for.setdefault(target["Id"], []).append(alias)
        for ep in mine:
            net = self.nets.find_network(ep["network_id"])
            if net is None or net.get("default"):
                continue
            for peer in self.nets.endpoints(network_id=ep["network_id"]):
                if peer["container_id"] == doc["Id"] or not peer.get("address"):
                    continue
                names = [peer["container_name"], *peer.get("aliases", []),
                         *aliases_for.get(peer["container_id"], [])]
                out.append((peer["address"].split("/")[0], list(dict.fromkeys(names))))
        return out

    def _refresh_peers(self, doc: dict, gone: list[dict] | None = None) -> None:
        """Rewrite the hosts files of running containers that see this one: peers on
        its networks and containers linking to it."""
        cid, name = doc["Id"], doc["Name"].lstrip("/")
        nets = {e["network_id"] for e in (gone or [])} | \
            {e["network_id"] for e in self.nets.endpoints(container_id=cid)}
        seen = set()
        for nid in nets:
            for ep in self.nets.endpoints(network_id=nid):
                seen.add(ep["container_id"])
        for other in self._attached_docs():
            if other["Id"] == cid:
                continue
            linked = any(linkmod.parse_link(s)[0] == name
                         for s in other["HostConfig"].get("Links") or [])
            if other["Id"] in seen or linked:
                self._write_hosts(other)

    def _write_hosts(self, doc: dict) -> None:
        path = doc.get("HostsPath")
        if not path or not os.path.exists(path):
            return
        text = self.hosts_text(doc)
        try:
            with open(path, "r+") as f:   # in place: the file is bind-mounted
                f.seek(0)
                f.write(text)
                f.truncate()
        except OSError as e:
            log.warning("hosts file of %s: %s", doc["Id"][:12], e)

    # --- ports -----------------------------------------------------------------------------

    def _resolve_ports(self, doc: dict, wanted: list[tuple[dict, dict]]) -> dict:
        cfg, hc = doc["Config"], doc["HostConfig"]
        if not wanted:
            return {}
        taken = []
        for other in self._attached_docs():
            if other["Id"] != doc["Id"]:
                taken += portmod.bindings_of(other["NetworkSettings"].get("Ports"))
        first = self.svc.model(wanted[0][0])
        default_ip = getattr(first.config, "host_binding_ipv4", "0.0.0.0")
        ns = self.svc.host_ns
        return portmod.resolve(cfg.get("ExposedPorts"), hc.get("PortBindings"),
                               bool(hc.get("PublishAllPorts")), taken,
                               lambda proto, ip, port: portmod.bindable(proto, ip, port, ns),
                               default_ip=default_ip)

    def _attached_docs(self) -> list[dict]:
        """Docs of containers that have endpoints now (running, or being started)."""
        out = []
        for cid in dict.fromkeys(e["container_id"] for e in self.nets.endpoints()):
            doc = self._inflight.get(cid)
            if doc is None:
                try:
                    doc = self.engine.containers.get(cid)
                except NotFound:
                    continue
            out.append(doc)
        return out

    # --- connect / disconnect ----------------------------------------------------------------

    def connect(self, net_ref: str, container_ref: str, config: dict | None = None) -> None:
        C = self.engine.containers
        cid = C.id_of(container_ref)
        with C.lock(cid):
            doc = C.get(cid)
            mode = self.mode(doc)
            if mode == "host" or mode.startswith("container:"):
                raise InvalidArgument(f"container sharing the {mode.split(':')[0]} network "
                                      "namespace cannot be connected to another network")
            net = self.nets.get_network(net_ref)
            if net["name"] in BUILTIN:
                raise InvalidArgument(f"container cannot be connected to the {net['name']} "
                                      "network")
            cname = doc["Name"].lstrip("/")
            nets = doc["NetworkSettings"].setdefault("Networks", {})
            if net["name"] in nets:
                raise Conflict(f"endpoint with name {cname} already exists in network "
                               f"{net['name']}")
            es_in = dict(config or {})
            self._check_endpoint_config(net, es_in)
            es = self._settings_for(net, es_in)
            running = doc["State"]["Status"] in ("running", "paused")
            ep = None
            if running:
                netns = doc["NetworkSettings"].get("SandboxKey")
                with self.svc.lock:
                    used = {e["ifname"] for e in self.nets.endpoints(container_id=cid)}
                    ifname = next(f"eth{i}" for i in range(len(used) + 1)
                                  if f"eth{i}" not in used)
                    has_route = any(e.get("gateway") for e in
                                    self.nets.endpoints(container_id=cid))
                    ep = self._join(doc, net, es, netns, ifname, not has_route)
                    if self.svc.dry_run:
                        return
                    self._fill(doc, net, es, ep)
                    self.svc.render_firewall()
            if self.svc.dry_run:
                return
            if mode == "none" and nets.get("none") is not None:
                nets.pop("none")
            nets[net["name"]] = es
            C.save(doc)
        if ep is not None:
            self._write_hosts(doc)
            self._refresh_peers(doc)

    def disconnect(self, net_ref: str, container_ref: str, force: bool = False) -> None:
        C = self.engine.containers
        cid = C.id_of(container_ref)
        with C.lock(cid):
            doc = C.get(cid)
            net = self.nets.get_network(net_ref)
            nets = doc["NetworkSettings"].get("Networks") or {}
            if net["name"] not in nets:
                raise Conflict(f"container {doc['Name'].lstrip('/')} is not connected to "
                               f"network {net['name']}")
            if net["name"] in BUILTIN:
                raise InvalidArgument(f"container cannot be disconnected from the "
                                      f"{net['name']} network")
            eps = [e for e in self.nets.endpoints(container_id=cid)
                   if e["network_id"] == net["id"]]
            netns = doc["NetworkSettings"].get("SandboxKey") or None
            with self.svc.lock:
                for ep in eps:
                    self._leave(ep, netns, quiet=force)
                if self.svc.dry_run:
                    return
                if eps:
                    self.svc.render_firewall()
            nets.pop(net["name"])
            if net.get("default"):
                self._clear_top(doc)
            C.save(doc)
        if eps:
            self._write_hosts(doc)
            self._refresh_peers(doc, gone=eps)

    @staticmethod
    def _clear_top(doc: dict) -> None:
        ns = doc["NetworkSettings"]
        ns.update(Gateway="", IPAddress="", IPPrefixLen=0, MacAddress="", EndpointID="")

    # --- network API -----------------------------------------------------------------------

    def create_network(self, body: dict) -> dict:
        ipam_cfg = (body.get("IPAM") or {}).get("Config") or None
        doc = self.svc.create(body.get("Name") or "", body.get("Driver") or "bridge",
                              options=body.get("Options") or {}, ipam_config=ipam_cfg,
                              internal=bool(body.get("Internal")),
                              labels=body.get("Labels") or {})
        return {"Id": doc["id"], "Warning": ""}

    def remove_network(self, ref: str) -> None:
        self.svc.remove(ref)

    def prune_networks(self) -> list[str]:
        used = set()
        for doc in self.engine.containers.all():
            used.update((doc["NetworkSettings"].get("Networks") or {}).keys())
        removed = []
        for net in self.nets.list_networks():
            if net["name"] in BUILTIN or net.get("default") or net["name"] in used:
                continue
            if self.nets.endpoints(network_id=net["id"]):
                continue
            self.svc.remove(net["id"])
            removed.append(net["name"])
        return removed

    def list_networks(self) -> list[dict]:
        return [self.inspect_network(d["id"], containers=False)
                for d in self.nets.list_networks()]

    def inspect_network(self, ref: str, containers: bool = True) -> dict:
        from fabric.network.inspect import network_json
        doc = self.nets.get_network(ref)
        eps = self.nets.endpoints(network_id=doc["id"]) if containers else []
        return network_json(doc, eps)


def _ep(doc: dict) -> Endpoint:
    return Endpoint(id=doc["id"], network_id=doc["network_id"],
                    container_id=doc["container_id"], ifname=doc["ifname"],
                    address=doc["address"], mac=doc["mac"], gateway=doc.get("gateway"),
                    aliases=tuple(doc.get("aliases") or ()))
