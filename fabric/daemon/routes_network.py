"""Network routes, shaped like Docker Engine API v1.41 `/networks/...`.

`?explain=1` and `?dry_run=1` on the routes that change the kernel return the shell
commands in an "Explain" list (Docker has no such field; its clients ignore it).
"""

from fabric.daemon.http import Response
from fabric.daemon.params import filters, plan_mode
from fabric.errors import InvalidArgument

KEYS = ("name", "id", "driver", "type", "label", "scope", "dangling")
BUILTIN = ("bridge", "host", "none")


def _filtered(nets: list[dict], filters: dict[str, list[str]], in_use) -> list[dict]:
    """Docker's network filters; `in_use(id)`: does a container use the network."""
    for key in filters:
        if key not in KEYS:
            raise InvalidArgument(f"Invalid filter '{key}'")
    for v in filters.get("dangling", ()):
        if v.lower() not in ("true", "1", "false", "0"):
            raise InvalidArgument(f"Invalid filter: 'dangling'='{v}'")

    def keep(n: dict) -> bool:
        for key, values in filters.items():
            if key == "scope" and n["Scope"] not in values:
                return False
            if key == "dangling":
                # Docker: networks no container uses, the pre-defined ones left out
                want = values[-1].lower() in ("true", "1")
                if want != (n["Name"] not in BUILTIN and not in_use(n["Id"])):
                    return False
            if key == "name" and not any(v in n["Name"] for v in values):
                return False
            if key == "id" and not any(n["Id"].startswith(v) for v in values):
                return False
            if key == "driver" and n["Driver"] not in values:
                return False
            if key == "type":
                builtin = n["Name"] in BUILTIN
                if not any((v == "builtin") == builtin for v in values):
                    return False
            if key == "label":
                for v in values:
                    k, eq, val = v.partition("=")
                    if k not in n["Labels"] or (eq and n["Labels"][k] != val):
                        return False
        return True
    return [n for n in nets if keep(n)]


def add(r, engine) -> None:
    N = engine.network

    def explained(req, fn, status=200, body=None):
        with N.explaining(plan_mode(req)) as lines:
            out = fn()
        if plan_mode(req) != "apply":
            doc = dict(out) if isinstance(out, dict) else {}
            doc["Explain"] = lines
            return Response(200 if status == 204 else status, doc)
        return Response(status, out if body is None else body)

    @r.route("GET", "/networks")
    def network_list(req):
        return _filtered(N.list_networks(), filters(req),
                         lambda nid: bool(N.inspect_network(nid)["Containers"]))

    @r.route("GET", "/networks/{id}")
    def network_inspect(req):
        return N.inspect_network(req.params["id"])

    @r.route("POST", "/networks/create")
    def network_create(req):
        body = req.json()
        return explained(req, lambda: N.create_network(body), status=201)

    @r.route("DELETE", "/networks/{id}")
    def network_remove(req):
        return explained(req, lambda: N.remove_network(req.params["id"]), status=204,
                         body=None)

    @r.route("POST", "/networks/{id}/connect")
    def network_connect(req):
        b = req.json()
        return explained(req, lambda: N.connect(req.params["id"], b.get("Container", ""),
                                                b.get("EndpointConfig") or {}))

    @r.route("POST", "/networks/{id}/disconnect")
    def network_disconnect(req):
        b = req.json()
        return explained(req, lambda: N.disconnect(req.params["id"], b.get("Container", ""),
                                                   bool(b.get("Force"))))

    @r.route("POST", "/networks/prune")
    def network_prune(req):
        return {"NetworksDeleted": N.prune_networks()}
