"""fabric-only routes for `fabric mesh` (weave's commands over mesh networks):
/fabric/mesh/launch, /connect, /forget, /status, and /network?ip= (the mesh network
whose subnet holds an address, for `fabric run --ip 10.32.1.2/24`)."""

from fabric.daemon.http import Response
from fabric.daemon.params import plan_mode
from fabric.network import mesh_status
from fabric.network.meshes import DEFAULT_NETWORK, Meshes


def add(r, engine) -> None:
    N = engine.network
    meshes = Meshes(N.core)

    @r.route("POST", "/fabric/mesh/launch")
    def mesh_launch(req):
        b = req.json() or {}
        mode = plan_mode(req)
        with N.explaining(mode) as lines:
            out = meshes.launch(list(b.get("Peers") or []), b.get("Network") or DEFAULT_NETWORK,
                                b.get("Subnet") or None, b.get("Options") or {})
        if mode != "apply":
            out["Explain"] = lines
        return Response(201 if out["Created"] else 200, out)

    @r.route("POST", "/fabric/mesh/connect")
    def mesh_connect(req):
        b = req.json() or {}
        return {"Networks": meshes.connect(b.get("Peer") or "", b.get("Network") or None)}

    @r.route("POST", "/fabric/mesh/forget")
    def mesh_forget(req):
        b = req.json() or {}
        return {"Networks": meshes.forget(b.get("Peer") or "", b.get("Network") or None)}

    @r.route("GET", "/fabric/mesh/status")
    def mesh_report(req):
        return mesh_status.report(meshes)

    @r.route("GET", "/fabric/mesh/network")
    def mesh_network_for(req):
        return meshes.network_for(req.query.get("ip") or "")
