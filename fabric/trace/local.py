"""`fabric trace FROM TO` on one host: names resolved through its daemon, as `fabric
inspect` would, into the plan run.py carries out."""

import ipaddress

from fabric.client.http import ApiError, Client
from fabric.errors import InvalidArgument, NotFound
from fabric.probe import wire
from fabric.trace.packet import is_ipv4
from fabric.trace.run import Plan, Tracer, Want
from fabric.trace.story import Ends

HOST = "host"


def _networks(doc: dict) -> dict[str, dict]:
    return (doc.get("NetworkSettings") or {}).get("Networks") or {}


def _inspect(client: Client, name: str) -> dict:
    try:
        doc = client.get(f"/containers/{name}/json")
    except ApiError as e:
        if e.status == 404:
            raise NotFound(f"trace: no container {name!r} (FROM and TO are containers, "
                           "`host`, or for TO an address)") from None
        raise
    if doc["State"]["Status"] != "running":
        raise InvalidArgument(f"trace: container {name} is not running "
                              f"(state: {doc['State']['Status']})")
    return doc


def names(client: Client, label: str) -> tuple[dict[str, str], dict[str, str]]:
    """(address -> name, address -> its subnet): every running container's, and the
    host's own addresses."""
    out: dict[str, str] = {}
    subnets: dict[str, str] = {}
    for iface in client.get("/fabric/host").get("Interfaces") or ():
        for cidr in iface.get("Addresses") or ():
            out[cidr.split("/")[0]] = f"host {label}"
    for c in client.get("/containers/json"):
        name = (c.get("Names") or ["/?"])[0].lstrip("/")
        for net in _networks(c).values():
            ip = net.get("IPAddress")
            if ip:
                out[ip] = name
                n = ipaddress.IPv4Network(f"{ip}/{net.get('IPPrefixLen') or 32}", strict=False)
                subnets[ip] = str(n)
    return out, subnets


def _destination(client: Client, src: dict | None, dst: str) -> str:
    if dst == HOST:
        if src is None:
            return "127.0.0.1"
        gw = next((n.get("Gateway") for n in _networks(src).values() if n.get("Gateway")),
                  None)
        if not gw:
            raise InvalidArgument("trace: the container has no gateway to reach the host by")
        return gw
    if is_ipv4(dst):
        return dst
    doc = _inspect(client, dst)
    theirs = _networks(doc)
    shared = [n for n in _networks(src) if n in theirs] if src is not None else []
    net = theirs.get(shared[0]) if shared else next(iter(theirs.values()), None)
    if not net or not net.get("IPAddress"):
        raise InvalidArgument(f"trace: container {dst} has no address")
    return net["IPAddress"]


def plan(client: Client, src: str, dst: str, want: Want) -> Plan:
    label = client.get("/fabric/host").get("Name") or "local"
    if src == HOST:
        src_doc, netns = None, wire.OWN
    elif is_ipv4(src):
        raise InvalidArgument("trace: FROM is a container or `host`, not an address")
    else:
        src_doc = _inspect(client, src)
        netns = src_doc["NetworkSettings"]["SandboxKey"]
    address = _destination(client, src_doc, dst)
    me = Tracer(label, client)
    by_ip, subnets = names(client, label)
    return Plan(hosts=(me,), sender=me, src_netns=netns, probe=want.probe(address),
                names=by_ip, subnets=subnets,
                ends=Ends(src, dst if dst == address else f"{dst} ({address})", label, label))
