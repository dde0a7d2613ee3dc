"""fabric-only routes for the firewall: users' rules (/fabric/firewall/rules) and the
firewall as it stands, in words, with its counters (/fabric/firewall/show)."""

from fabric.daemon.http import Response
from fabric.daemon.params import plan_mode


def add(r, engine) -> None:
    N = engine.network
    fw = N.firewall

    def rendered(req, change):
        """A change of the rules re-renders the firewall whole; explained and dry-run
        requests get the commands back (a dry run keeps no change)."""
        mode = plan_mode(req)
        with N.explaining(mode) as lines:
            out = change()
        if mode != "apply":
            return Response(200, {**out, "Explain": lines})
        return Response(201 if req.method == "POST" else 200, out)

    @r.route("GET", "/fabric/firewall/rules")
    def rule_list(req):
        return fw.rules.list()

    @r.route("POST", "/fabric/firewall/rules")
    def rule_add(req):
        body = req.json()
        return rendered(req, lambda: fw.add_rule(body))

    @r.route("DELETE", "/fabric/firewall/rules/{id}")
    def rule_rm(req):
        return rendered(req, lambda: fw.remove_rule(req.params["id"]))

    @r.route("GET", "/fabric/firewall/show")
    def show(req):
        from fabric.network import firewall_show
        return firewall_show.view(fw)
