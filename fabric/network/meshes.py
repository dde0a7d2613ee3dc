"""`fabric mesh`: weave's commands over mesh networks (the `mesh` driver's).

Weave forms its mesh by routers dialling each other; fabric's hosts already meet in
the cluster store, so the store is the truth here too and the commands record intent
in it:

- `launch [PEER...]` makes this host a member of the mesh network (creating it in the
  cluster with weave's 10.32.0.0/12 when no host has yet, joining it otherwise), after
  every PEER named has answered: it must be a host of the cluster (by name or underlay
  address) whose underlay address answers ICMP echo from here. Its connection, and
  each PEER's, is recorded as wanted. A PEER that does not answer: one line, nothing
  made.
- `connect PEER` records that the members want PEER (it must answer): a PEER that was
  forgotten is programmed in again by every member, and programs them in; one that has
  not launched yet is connected when it does (`mesh status` shows it pending).
- `forget PEER` records that the members do not want PEER (it need not answer: a dead
  host is forgotten too): every member drops its endpoints, and PEER drops theirs,
  within a second; PEER stays a member and keeps its addresses, so `connect` brings it
  back as it was.

Each member's daemon acts on the records through its watch (remotes.py). Without
`--network` connect and forget apply to every mesh network of this host.
"""

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from fabric.errors import Conflict, InvalidArgument, NotFound
from fabric.network.core import NetworkCore
from fabric.probe import Probe, send

DRIVER = "mesh"
DEFAULT_NETWORK = "mesh"
DEFAULT_SUBNET = "10.32.0.0/12"     # weave's allocation range
ANSWER_TRIES = 5                    # ICMP echoes to a PEER before it "does not answer"
ANSWER_TIMEOUT = 0.3


class Meshes:
    def __init__(self, core: NetworkCore):
        self.core = core
        self.svc = core.svc

    # --- the mesh networks of this host ----------------------------------------------

    def networks(self, name: str | None = None) -> list[dict]:
        nets = [d for d in self.svc.list_networks() if d["driver"] == DRIVER]
        if name is None:
            return nets
        hit = [d for d in nets if d["name"] == name or d["id"].startswith(name)]
        if not hit:
            raise NotFound(f"no mesh network {name} on host {self.svc.host.name} "
                           f"(mesh networks here: {_names(nets)})")
        return hit[:1]

    def network_for(self, ip: str) -> dict:
        """The mesh network whose subnet holds `ip` (ADDRESS or ADDRESS/PREFIX, as in
        `weave run 10.32.1.2/24`: the prefix's block must lie in the subnet)."""
        try:
            block = ipaddress.IPv4Interface(ip).network
        except ValueError:
            raise InvalidArgument(f"{ip!r} is not an IPv4 address (ADDRESS[/PREFIX])") \
                from None
        nets = self.networks()
        for d in nets:
            for s in d.get("ipam", ()):
                if block.subnet_of(ipaddress.IPv4Network(s["subnet"])):
                    return {"Name": d["name"], "Id": d["id"], "IP": ip.split("/")[0],
                            "Subnet": s["subnet"]}
        raise NotFound(f"no mesh network holds {ip} (mesh networks here: {_names(nets)})")

    # --- launch, connect, forget -----------------------------------------------------

    def launch(self, peers: list[str], name: str = DEFAULT_NETWORK,
               subnet: str | None = None, options: dict | None = None) -> dict:
        cluster = self.svc.cluster()
        found = [self.answering(p) for p in peers]     # before anything is made
        doc = self.svc.find_network(name)
        if doc is not None and doc["driver"] != DRIVER:
            raise Conflict(f"network {name} exists on this host with driver {doc['driver']}")
        made = doc is None
        if doc is None:
            if subnet is None and cluster.networks.find_network(name) is None:
                subnet = DEFAULT_SUBNET
            doc = self.core.networks.create(
                name, DRIVER, options=options or {},
                ipam_config=[{"Subnet": subnet}] if subnet else None)
        if self.svc.dry_run:
            return {"Id": doc["id"], "Name": name, "Created": made, "Peers": []}
        me = self.svc.host.name
        for host in [me] + [p["host"] for p in found]:
            cluster.set_connection(doc["id"], host, True, me)
        return {"Id": doc["id"], "Name": name, "Created": made,
                "Peers": [p["host"] for p in found]}

    def connect(self, peer: str, network: str | None = None) -> list[str]:
        found = self.answering(peer)
        return self._intend(found["host"], True, network)

    def forget(self, peer: str, network: str | None = None) -> list[str]:
        return self._intend(self.resolve(peer)["host"], False, network)

    def _intend(self, host: str, wanted: bool, network: str | None) -> list[str]:
        nets = self.networks(network)
        if not nets:
            raise NotFound(f"host {self.svc.host.name} has no mesh network: run fabric mesh "
                           "launch first")
        cluster = self.svc.cluster()
        for d in nets:
            cluster.set_connection(d["id"], host, wanted, self.svc.host.name)
        return [d["name"] for d in nets]

    # --- peers ---------------------------------------------------------------------------

    def resolve(self, peer: str) -> dict:
        """A host of the cluster named by `peer`: its name, its short name within a lab
        (h2 for lab.h2), or its underlay address; never this host."""
        peers = self.svc.cluster().peers()
        hit = [p for p in peers if peer in (p["host"], p.get("underlay"))] or \
            [p for p in peers if p["host"].rsplit(".", 1)[-1] == peer]
        if len(hit) > 1:
            raise InvalidArgument(f"peer {peer} is ambiguous ({_hosts(hit)})")
        if not hit:
            raise NotFound(self._unknown(peer, peers))
        if hit[0]["host"] == self.svc.host.name:
            raise InvalidArgument(f"peer {peer} is this host")
        return hit[0]

    def answering(self, peer: str) -> dict:
        found = self.resolve(peer)
        where = found.get("underlay")
        if not where or not self.answers(where):
            raise Conflict(f"peer {peer} does not answer (host {found['host']}, underlay "
                           f"{where or 'unknown'}: no reply to {ANSWER_TRIES} pings)")
        return found

    def answers(self, address: str, tries: int = ANSWER_TRIES) -> bool:
        probe = Probe("icmp", address, timeout=ANSWER_TIMEOUT)
        return any(send(self.svc.host.netns, probe).result == "ok" for _ in range(tries))

    def reachable(self, addresses: list[str]) -> dict[str, bool]:
        """Which underlay addresses answer one ping, all asked at once."""
        if not addresses:
            return {}
        with ThreadPoolExecutor(max_workers=min(8, len(addresses))) as ex:
            return dict(zip(addresses, ex.map(lambda a: self.answers(a, 2), addresses)))

    def _unknown(self, peer: str, peers: list[dict]) -> str:
        known = f" (hosts: {_hosts(peers)})" if peers else ""
        try:
            ipaddress.IPv4Address(peer)
        except ValueError:
            return f"peer {peer} is not a host of this cluster{known}"
        if self.answers(peer, 2):
            return f"peer {peer} answers, but no fabric host there shares this host's " \
                   f"cluster store{known}"
        return f"peer {peer} does not answer and is not a host of this cluster{known}"


def _names(nets: list[dict]) -> str:
    return ", ".join(f"{d['name']} {', '.join(s['subnet'] for s in d.get('ipam', ()))}"
                     for d in nets) or "none"


def _hosts(peers: list[dict]) -> str:
    return ", ".join(f"{p['host']} {p.get('underlay') or ''}".strip() for p in peers)
