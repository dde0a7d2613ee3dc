"""Networks as Docker's Engine API (v1.41) shows them."""

import datetime


def _time(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat() \
        .replace("+00:00", "Z")


def network_json(doc: dict, endpoints: list[dict]) -> dict:
    out = {
        "Name": doc["name"],
        "Id": doc["id"],
        "Created": _time(doc["created"]),
        "Scope": doc.get("scope", "local"),
        "Driver": doc["driver"],
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if not doc.get("ipam") else {},
                 "Config": [_ipam(s) for s in doc.get("ipam", [])]},
        "Internal": bool(doc.get("internal")),
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {e["container_id"]: {
            "Name": e.get("container_name", ""), "EndpointID": e["id"],
            "MacAddress": e.get("mac", ""), "IPv4Address": e.get("address", ""),
            "IPv6Address": ""} for e in endpoints},
        "Options": dict(doc.get("options") or {}),
        "Labels": dict(doc.get("labels") or {}),
    }
    if doc.get("scope") == "global":
        # as Docker shows a swarm network's: the other hosts this one is wired to
        out["Peers"] = [{"Name": p["host"], "IP": p["underlay"]}
                        for p in (doc.get("shared") or {}).get("peers", ())]
    return out


def _ipam(s: dict) -> dict:
    out = {"Subnet": s["subnet"], "Gateway": s["gateway"]}
    if s.get("ip_range"):
        out["IPRange"] = s["ip_range"]
    return out
