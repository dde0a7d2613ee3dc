"""fabric-only routes for users' firewall rules: /fabric/firewall/rules."""

from fabric.daemon.http import Response
from fabric.daemon.routes_network import _mode
from fabric.network.user_rules import UserRules


def add(r, engine) -> None:
    N = engine.network
    if not hasattr(N, "svc"):
        return
    rules = UserRules(engine.store)

    def rendered(req, change):
        """Apply a change and re-render the firewall whole; in dry-run mode the store
        change is rolled back after describing it."""
        mode = _mode(req)
        with N.svc.lock, N.explaining(mode) as lines:
            out = change()
            try:
                N.svc.render_firewall()
            except BaseException:
                if out and "id" in out and req.method == "POST":
                    rules.remove(out["id"])
                raise
            if mode == "dry-run" and req.method == "POST":
                rules.remove(out["id"])
        if mode != "apply":
            return Response(200, {**(out or {}), "Explain": lines})
        return Response(201 if req.method == "POST" else 200, out)

    @r.route("GET", "/fabric/firewall/rules")
    def rule_list(req):
        return rules.list()

    @r.route("POST", "/fabric/firewall/rules")
    def rule_add(req):
        body = req.json()
        return rendered(req, lambda: rules.add(body))

    @r.route("DELETE", "/fabric/firewall/rules/{id}")
    def rule_rm(req):
        if _mode(req) == "dry-run":
            hit = [x for x in rules.list() if x["id"].startswith(req.params["id"])]
            with N.explaining("dry-run") as lines:
                N.svc.render_firewall()
            return Response(200, {**(hit[0] if hit else {}), "Explain": lines})
        return rendered(req, lambda: rules.remove(req.params["id"]))
