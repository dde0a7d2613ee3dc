"""A lab as it runs: each host's daemon asked about the lab's containers, and where
each host, container and segment lives, to aim probes and resolve names to addresses.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from fabric.client.http import ApiError, Client, DaemonUnavailable
from fabric.errors import FabricError
from fabric.host import registry
from fabric.lab import model, naming, remote, remote_file, slices
from fabric.lab.expect import Sender
from fabric.net import netns as netnsmod
from fabric.probe import wire


def client(lab: str, host: str) -> Client:
    ref = naming.host_ref(lab, host)
    return remote.of(ref) or Client(registry.root_of(ref).socket)


def inspect(lab: str, c: model.Container) -> dict | None:
    """The container's inspect document; None when it or its host's daemon is gone."""
    try:
        r = client(lab, c.host).request("GET", f"/containers/{c.name}/json")
        if r.status == 404:
            r.read()
            return None
        r.raise_for_status()
        return r.json()
    except (DaemonUnavailable, OSError):
        return None


@dataclass
class Live:
    lab: model.Lab
    docs: dict[str, dict | None] = field(default_factory=dict)

    def state(self, name: str) -> str:
        doc = self.docs.get(name)
        return doc["State"]["Status"] if doc else "missing"

    def addresses(self, name: str) -> dict[str, str]:
        """network -> address, in the container's own order."""
        doc = self.docs.get(name) or {}
        nets = (doc.get("NetworkSettings") or {}).get("Networks") or {}
        return {n: v.get("IPAddress") for n, v in nets.items() if v.get("IPAddress")}

    def local_subnets(self, name: str) -> list[IPv4Network]:
        """The subnets a container is attached to (its own side of each network)."""
        doc = self.docs.get(name) or {}
        nets = (doc.get("NetworkSettings") or {}).get("Networks") or {}
        return [IPv4Network(f"{v['IPAddress']}/{v.get('IPPrefixLen') or 32}", strict=False)
                for v in nets.values() if v.get("IPAddress")]

    def netns(self, name: str) -> str:
        """The namespace of a container (its SandboxKey, as its machine names it) or of
        a host (for a host on another machine, its daemon's own: wire.OWN)."""
        h = self.lab.host(name)
        if h is not None:
            if h.remote is not None:
                return wire.OWN
            return netnsmod.path(naming.host_netns(self.lab.name, name))
        doc = self.docs.get(name)
        key = ((doc or {}).get("NetworkSettings") or {}).get("SandboxKey")
        if not key or self.state(name) != "running":
            raise FabricError(f"container {name} is not running (state: {self.state(name)})")
        return key

    def address_of(self, ref: str, src: str | None = None) -> str:
        """A container (NAME, NAME@NET), a host (HOST, HOST:IF) or an address, as the
        address a probe or a rule aims at. A container seen from `src` is reached on
        the first network of its own that `src` shares."""
        name, at, net = ref.partition("@")
        c = self.lab.container(name)
        if c is not None:
            addrs = self.addresses(name)
            if at:
                return self._need(addrs.get(net), f"container {name} has no address on {net}")
            pick = next((n for n in c.network_names if self.shared(src, c, n)), None)
            wanted = pick or c.network_names[0]
            return self._need(addrs.get(wanted) or next(iter(addrs.values()), None),
                              f"container {name} has no address (state: {self.state(name)})")
        host, colon, ifname = ref.partition(":")
        h = self.lab.host(host)
        if h is not None:
            nic = (h.nic(ifname) or next((n for n in h.nics if n.bridge == ifname), None)
                   ) if colon else next((n for n in h.nics if n.address is not None), None)
            if nic is None or nic.address is None:
                raise FabricError(f"host {host} has no address on {ifname or 'any NIC'}")
            return str(nic.address.ip)
        return ref

    def shared(self, src: str | None, dst: model.Container, net: str) -> bool:
        """Are `src` and `dst` on one network `net`? A lab network spans its hosts; the
        default bridge and other local networks are each host's own."""
        c = self.lab.container(src) if src else None
        if c is None or net not in c.network_names:
            return False
        if c.host == dst.host:
            return True
        lab_net = self.lab.network(net)
        return lab_net is not None and slices.spans_hosts(lab_net)

    def sender(self, name: str) -> Sender | None:
        """Who sends a probe from host or container `name`: None for the prober here;
        for a host on another machine, its daemon (the namespace is there)."""
        h = remote_file.machine_of(self.lab, name)
        if h is None or h.remote is None:
            return None
        return remote.Prober(h.name, client(self.lab.name, h.name))

    def via(self, ref: str) -> tuple[str, str]:
        """HOST:IF or CONTAINER:IF, or a segment (its bridge): (netns path, ifname)."""
        name, colon, ifname = ref.partition(":")
        if not colon:
            return (netnsmod.path(naming.segment_netns(self.lab.name, ref)),
                    naming.segment_bridge(ref))
        return self.netns(name), ifname

    @staticmethod
    def _need(value: str | None, problem: str) -> str:
        if not value:
            raise FabricError(problem)
        return value


def gather(lab: model.Lab) -> Live:
    """Ask every host about its containers, hosts in parallel."""
    live = Live(lab)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="inspect") as ex:
        docs = ex.map(lambda c: inspect(lab.name, c), lab.containers)
        for c, doc in zip(lab.containers, docs):
            live.docs[c.name] = doc
    return live


def daemon_error(e: Exception) -> str:
    if isinstance(e, ApiError):
        return e.message
    if isinstance(e, FabricError):
        return e.message
    return str(e)
