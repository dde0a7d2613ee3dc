"""fabric-only routes for `fabric trace` and `fabric lab trace`: this host's part of
a packet trace (fabric/trace/session.py).

`POST /fabric/trace` arms every namespace of this host (its own and each running
container's) for a probe the caller is about to send, and answers with the trace's
id; `DELETE /fabric/trace/{id}` ends it and answers with the passes the probe made
here, in this daemon's words. The caller sends the probe in between (`POST
/fabric/probe`, or from its own side) and stitches the hosts' passes together.
"""

import os


def add(r, engine) -> None:
    from fabric.trace.session import HOST, Sessions, Spec

    sessions = Sessions()

    def where() -> dict[str, str | None]:
        ns: dict[str, str | None] = {HOST: engine.host.netns}
        for d in engine.containers.all():
            key = d["NetworkSettings"].get("SandboxKey")
            if d["State"]["Status"] == "running" and key and os.path.exists(key):
                ns[d["Name"].lstrip("/")] = key
        return ns

    def words(spec: Spec):
        return engine.network.firewall.words(addresses=dict(spec.names))

    @r.route("POST", "/fabric/trace")
    def arm(req) -> dict:
        spec = Spec.of(req.json())
        # the host's own Open vSwitch, when it runs one (fabric/ovs)
        return {"Id": sessions.start(spec, where(), os.path.join(engine.root.path, "ovs"))}

    @r.route("DELETE", "/fabric/trace/{id}")
    def finish(req) -> dict:
        passes = sessions.finish(req.params["id"], words)
        return {"Passes": [p.doc() for p in passes]}
