"""Do the store, the kernel and `inspect` agree about which containers are on which
networks? One checker over plain data, shared by the crash tests (in-process and
against a real daemon) and bench/crash_bench.py.

What must hold whatever moment a daemon was killed at, once a daemon has started
again (see fabric/network/reconcile.py for the rules that make it so):

- a running container's document names exactly the networks it has endpoint rows for,
  with the row's endpoint id and address, and `network inspect` lists it there;
- its namespace has exactly those interfaces (no stale eth1), with those addresses, and
  the host side of each carries the endpoint's tag;
- a container that does not run has no endpoint and shows no address;
- no tagged interface of one of the host's networks lacks its endpoint row;
- no two endpoints of a network share an address, and no document names a network
  that does not exist;
- every bridge network has its tagged bridge, and no tagged bridge lacks its network.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RUNNING = ("running", "paused")
NETWORK_TAG = re.compile(r"fabric:[0-9a-f]{12}")


@dataclass
class Observed:
    docs: list[dict]                    # containers as `inspect` shows them
    rows: list[dict]                    # endpoint rows in the store
    networks: list[dict]                # networks as `network inspect` shows them
    host_links: list[dict]              # `ip -j -d link` in the host's namespace
    sandboxes: dict[str, list[dict]] = field(default_factory=dict)
    # container id -> `ip -j addr` in its namespace (running containers)


def settled(observe: Callable[[], Observed], timeout: float = 3.0) -> list[str]:
    """The problems left once the kernel's own cleanup has caught up: the veths of a
    namespace just deleted go in the kernel's cleanup work, moments later."""
    deadline = time.monotonic() + timeout
    while True:
        found = problems(observe())
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _tag(net_id: str, ep_id: str) -> str:
    return f"fabric:{net_id[:12]}:{ep_id[:12]}"


def _driverless(name: str, es: dict) -> bool:
    return name in ("none", "host") and not es.get("EndpointID")


def problems(obs: Observed) -> list[str]:
    """Every disagreement found, one line each; empty when all agree."""
    out: list[str] = []
    nets = {n["Id"]: n for n in obs.networks}
    docs = {d["Id"]: d for d in obs.docs}
    host_tags = {link.get("ifalias") for link in obs.host_links}
    rows_of: dict[str, list[dict]] = {}
    for r in obs.rows:
        rows_of.setdefault(r["container_id"], []).append(r)
        if r["container_id"] not in docs:
            out.append(f"endpoint {r['id'][:12]} of a container that does not exist")
    for cid, doc in docs.items():
        out += _container(doc, rows_of.get(cid, []), nets, host_tags,
                          obs.sandboxes.get(cid))
    ours = {n[:12] for n in nets}
    row_tags = {_tag(r["network_id"], r["id"]) for r in obs.rows}
    for link in obs.host_links:
        alias = link.get("ifalias") or ""
        parts = alias.split(":")
        if len(parts) == 3 and parts[0] == "fabric" and parts[1] in ours and \
                alias not in row_tags:
            out.append(f"interface {link['ifname']} ({alias}) has no endpoint")
    for link in obs.host_links:
        alias = link.get("ifalias") or ""
        if NETWORK_TAG.fullmatch(alias) and not any(n.startswith(alias[7:]) for n in nets):
            out.append(f"bridge {link['ifname']} ({alias}) of no network")
    for nid, net in nets.items():
        if net["Driver"] == "bridge" and f"fabric:{nid[:12]}" not in host_tags:
            out.append(f"network {net['Name']} has no bridge")
        listed = set(net.get("Containers") or {})
        recorded = {r["container_id"] for r in obs.rows if r["network_id"] == nid}
        if listed != recorded:
            out.append(f"network inspect {net['Name']} lists {sorted(c[:12] for c in listed)},"
                       f" the store {sorted(c[:12] for c in recorded)}")
        addrs = [r["address"] for r in obs.rows if r["network_id"] == nid and r["address"]]
        if len(addrs) != len(set(addrs)):
            out.append(f"network {net['Name']}: an address is held twice: {sorted(addrs)}")
    return out


def _container(doc: dict, rows: list[dict], nets: dict, host_tags: set,
               sandbox: list[dict] | None) -> list[str]:
    name = doc["Name"].lstrip("/")
    out = []
    entries = {n: es for n, es in (doc["NetworkSettings"].get("Networks") or {}).items()
               if not _driverless(n, es)}
    for n, es in entries.items():
        if es.get("NetworkID") not in nets:
            out.append(f"{name}: names network {n}, which does not exist")
    if doc["State"]["Status"] not in RUNNING:
        if rows:
            out.append(f"{name} is {doc['State']['Status']} and has endpoints "
                       f"{[r['id'][:12] for r in rows]}")
        out += [f"{name} is {doc['State']['Status']} and shows {es['IPAddress']} on {n}"
                for n, es in entries.items() if es.get("IPAddress")]
        return out
    by_net = {r["network_id"]: r for r in rows}
    named = {es.get("NetworkID") for es in entries.values()}
    for r in rows:
        if r["network_id"] not in named:
            out.append(f"{name}: endpoint {r['id'][:12]} on a network its document "
                       "does not name")
    for n, es in entries.items():
        r = by_net.get(es.get("NetworkID"))
        if r is None:
            out.append(f"{name}: on {n} in its document, with no endpoint")
            continue
        if (es.get("EndpointID"), es.get("IPAddress")) != (r["id"], r["address"].split("/")[0]):
            out.append(f"{name} on {n}: inspect shows {es.get('IPAddress')} "
                       f"({(es.get('EndpointID') or '')[:12]}), the store {r['address']} "
                       f"({r['id'][:12]})")
        if _tag(r["network_id"], r["id"]) not in host_tags:
            out.append(f"{name} on {n}: no host interface tagged for endpoint {r['id'][:12]}")
    if sandbox is not None:
        have = {a["ifname"]: {f"{i['local']}/{i['prefixlen']}" for i in a.get("addr_info", [])
                              if i.get("family") == "inet"}
                for a in sandbox if a["ifname"] != "lo"}
        want = {r["ifname"]: {r["address"]} for r in rows}
        if have != want:
            out.append(f"{name}: its namespace has {have}, its endpoints say {want}")
    return out
