"""`ps` rows and `inspect` documents, in Docker's shapes."""

import time

from fabric.engine.timefmt import human_duration, parse_iso
from fabric.errors import InvalidArgument

HEALTH_FILTER = ("starting", "healthy", "unhealthy", "none")


def status_text(doc: dict) -> str:
    st = doc["State"]
    s = st["Status"]
    now = time.time()
    if s == "running":
        up = "Up " + human_duration(now - parse_iso(st["StartedAt"]))
        health = (st.get("Health") or {}).get("Status")
        if health:
            return f"{up} ({'health: starting' if health == 'starting' else health})"
        return up
    if s == "paused":
        return "Up " + human_duration(now - parse_iso(st["StartedAt"])) + " (Paused)"
    if s == "restarting":
        return f"Restarting ({st['ExitCode']}) " + \
            human_duration(now - parse_iso(st["FinishedAt"])) + " ago"
    if s == "exited":
        return f"Exited ({st['ExitCode']}) " + human_duration(now - parse_iso(st["FinishedAt"])) \
            + " ago"
    if s == "removing":
        return "Removal In Progress"
    if s == "dead":
        return "Dead"
    return "Created"


def _ports(doc: dict) -> list[dict]:
    out = []
    for key, binds in (doc["NetworkSettings"].get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
            continue
        for b in binds:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out


def row(engine, doc: dict) -> dict:
    cfg = doc["Config"]
    cmd = " ".join((cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or []))
    tags = engine.images.tags_of(doc["Image"])
    image = cfg.get("Image") or (tags[0] if tags else doc["Image"])
    return {
        "Id": doc["Id"], "Names": ["/" + doc["Name"].lstrip("/")], "Image": image,
        "ImageID": doc["Image"], "Command": cmd, "Created": int(parse_iso(doc["Created"])),
        "Ports": _ports(doc), "Labels": cfg.get("Labels") or {},
        "State": doc["State"]["Status"], "Status": status_text(doc),
        "HostConfig": {"NetworkMode": doc["HostConfig"].get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": doc["NetworkSettings"].get("Networks") or {}},
        "Mounts": doc.get("Mounts") or [],
    }


def _match(engine, doc: dict, key: str, values: list[str]) -> bool:
    if key == "name":
        return any(v.lstrip("/") in doc["Name"].lstrip("/") for v in values)
    if key == "id":
        return any(doc["Id"].startswith(v) for v in values)
    if key == "status":
        return doc["State"]["Status"] in values
    if key == "ancestor":
        for v in values:
            try:
                if engine.images.resolve(v) == doc["Image"]:
                    return True
            except Exception:
                if doc["Config"].get("Image") == v:
                    return True
        return False
    if key == "label":
        labels = doc["Config"].get("Labels") or {}
        for v in values:
            k, eq, val = v.partition("=")
            if k not in labels or (eq and labels[k] != val):
                return False
        return True
    if key == "exited":
        return doc["State"]["Status"] == "exited" and str(doc["State"]["ExitCode"]) in values
    if key == "network":
        return any(n in (doc["NetworkSettings"].get("Networks") or {}) for n in values)
    if key == "volume":
        return any(m.get("Name") in values or m.get("Destination") in values
                   for m in doc.get("Mounts") or [])
    if key == "health":
        for v in values:
            if v not in HEALTH_FILTER:
                raise InvalidArgument(f"Unrecognised filter value for health: {v}")
        return ((doc["State"].get("Health") or {}).get("Status") or "none") in values
    raise InvalidArgument(f"invalid filter {key!r}: use name, id, status, ancestor, label, "
                          "exited, network, volume or health")


def list_containers(engine, all_: bool, limit: int | None, size: bool,
                    filters: dict[str, list[str]]) -> list[dict]:
    docs = engine.containers.all()
    if not all_ and not limit and "status" not in filters:
        docs = [d for d in docs if d["State"]["Status"] in ("running", "paused", "restarting")]
    for key, values in filters.items():
        docs = [d for d in docs if _match(engine, d, key, values)]
    if limit and limit > 0:
        docs = docs[:limit]
    return [row(engine, d) for d in docs]


def inspect_doc(engine, doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k != "Fabric"}
    return out
