"""Container documents turned into the network core's requests, and what comes back
written into Docker's NetworkSettings. Pure: no store, no kernel."""

import json

from fabric.engine import network_modes
from fabric.network import docker_links
from fabric.network.requests import EndpointRequest, Member, Membership, Publish

ENDPOINT_KEYS = ("IPAMConfig", "Links", "Aliases", "MacAddress")


def member(doc: dict) -> Member:
    cid = doc["Id"]
    return Member(container_id=cid, name=doc["Name"].lstrip("/"),
                  hostname=doc["Config"].get("Hostname") or cid[:12],
                  links=tuple(docker_links.parse_link(s)
                              for s in doc["HostConfig"].get("Links") or []),
                  exposed=docker_links.link_ports(doc["Config"].get("ExposedPorts")))


def endpoint_request(net: dict, es: dict) -> EndpointRequest:
    """One entry of NetworkSettings.Networks (or of EndpointsConfig) for the core."""
    return EndpointRequest(network=net["id"],
                           ip=(es.get("IPAMConfig") or {}).get("IPv4Address") or None,
                           mac=es.get("MacAddress") or None,
                           aliases=tuple(es.get("Aliases") or ()))


def publish(config: dict, host_config: dict) -> Publish:
    return Publish(exposed=tuple(config.get("ExposedPorts") or ()),
                   bindings=dict(host_config.get("PortBindings") or {}),
                   all_exposed=bool(host_config.get("PublishAllPorts")))


def settings_for(net: dict, es: dict) -> dict:
    """The NetworkSettings.Networks entry a container gets for `net` at create or
    connect, from what it asked for."""
    s = network_modes.endpoint_settings()
    s.update({k: es.get(k) for k in ENDPOINT_KEYS if es.get(k)})
    s["NetworkID"] = net["id"]
    return s


def fill(doc: dict, net: dict, es: dict, ep: dict) -> None:
    """What attaching gave the container on `net`; the default bridge's also at the top
    level, as Docker shows it."""
    ip, _, plen = ep["address"].partition("/")
    es.update(NetworkID=net["id"], EndpointID=ep["id"], Gateway=ep["gateway"] or "",
              IPAddress=ip, IPPrefixLen=int(plen or 0), MacAddress=ep["mac"])
    if net.get("default"):
        doc["NetworkSettings"].update(Gateway=es["Gateway"], IPAddress=ip,
                                      IPPrefixLen=es["IPPrefixLen"],
                                      MacAddress=ep["mac"], EndpointID=ep["id"])


def membership(doc: dict, wanted: list[tuple[dict, dict]], running: bool,
               netns: str | None) -> Membership:
    """What the document says of the container's networks (`wanted`: (network, its
    NetworkSettings.Networks entry)), for the reconcile at daemon start."""
    return Membership(member(doc), running, netns,
                      tuple(endpoint_request(net, es) for net, es in wanted),
                      {net["id"]: es.get("IPAddress") or "" for net, es in wanted},
                      doc["NetworkSettings"].get("Ports") or {})


def show(doc: dict, wanted: list[tuple[dict, dict]], endpoints: dict[str, dict],
         running: bool) -> bool:
    """Make the document show the endpoints the reconcile left (network id -> record);
    True when it changed."""
    ns = doc["NetworkSettings"]
    before = json.dumps(ns, sort_keys=True)
    if not running:
        # only a stale address is cleared: what a container that never ran asked for
        # (its --mac-address) stays as it is
        if ns.get("IPAddress") or any(es.get("EndpointID") or es.get("IPAddress")
                                      for es in (ns.get("Networks") or {}).values()):
            clear(doc)
        return json.dumps(ns, sort_keys=True) != before
    for net, es in wanted:
        ep = endpoints.get(net["id"])
        if ep is not None:
            fill(doc, net, es, ep)
            continue
        _clear_entry(es, requested_macs(doc).get(net["name"], ""))
        if net.get("default"):
            clear_top(doc)
    return json.dumps(ns, sort_keys=True) != before


def requested_macs(doc: dict) -> dict[str, str]:
    """The MAC address asked for on each network, by name: a network's endpoint config
    (`network connect`, the API), or `--mac-address`, which is the first network's. An
    entry's MacAddress shows the address in use while running, so it cannot keep this."""
    eps = (doc["Fabric"].get("Networking") or {}).get("EndpointsConfig") or {}
    out = {name: es["MacAddress"] for name, es in eps.items() if (es or {}).get("MacAddress")}
    first = next(iter(doc["NetworkSettings"].get("Networks") or {}), None)
    if first is not None and doc["Config"].get("MacAddress"):
        out.setdefault(first, doc["Config"]["MacAddress"])
    return out


def _clear_entry(es: dict, requested_mac: str) -> None:
    es.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, MacAddress=requested_mac)


def clear(doc: dict) -> None:
    """Off every network (stopped): addresses and ports go, what was asked for stays."""
    ns = doc["NetworkSettings"]
    macs = requested_macs(doc)
    for name, es in (ns.get("Networks") or {}).items():
        _clear_entry(es, macs.get(name, ""))
    for key in ("Gateway", "IPAddress", "EndpointID", "MacAddress"):
        if key in ns:
            ns[key] = ""
    if "IPPrefixLen" in ns:
        ns["IPPrefixLen"] = 0
    ns["Ports"] = {}


def clear_top(doc: dict) -> None:
    """Off the default bridge: its top-level fields go."""
    doc["NetworkSettings"].update(Gateway="", IPAddress="", IPPrefixLen=0, MacAddress="",
                                  EndpointID="")
