"""`fabric trace FROM TO` on one host: names resolved through its daemon, as `fabric
inspect` would, into the plan run.py carries out."""

import ipaddress

from fabric.client.http import ApiError, Client
from fabric.errors import InvalidArgument, NotFound
from fabric.probe import wire
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


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def names(client: Client, label: str) -> dict[str, str]:
    """Every running container's addresses, and the host's own, by name."""
    out: dict[str, str] = {}
    for iface in client.get("/fabric/host").get("Interfaces") or ():
        for cidr in iface.get("Addresses") or ():
            out[cidr.split("/")[0]] = f"host {label}"
    for c in client.get("/containers/json"):
        name = (c.get("Names") or ["/?"])[0].lstrip("/")
        for net in _networks(c).values():
            if net.get("IPAddress"):
                out[net["IPAddress"]] = name
    return out


def _destination(client: Client, src: dict | None, dst: str) -> str:
    if dst == HOST:
        if src is None:
            return "127.0.0.1"
        gw = next((n.get("Gateway") for n in _networks(src).values() if n.get("Gateway")),
                  None)
        if not gw:
            raise InvalidArgument("trace: the container has no gateway to reach the host by")
        return gw
    if _is_address(dst):
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
    elif _is_address(src):
        raise InvalidArgument("trace: FROM is a container or `host`, not an address")
    else:
        src_doc = _inspect(client, src)
        netns = src_doc["NetworkSettings"]["SandboxKey"]
    address = _destination(client, src_doc, dst)
    me = Tracer(label, client)
    return Plan(hosts=(me,), sender=me, src_netns=netns, probe=want.probe(address),
                names=names(client, label),
                ends=Ends(src, dst if dst == address else f"{dst} ({address})", label, label))
