"""MTU black holes on overlays: a tunnel that wraps frames bigger than its underlay
carries.

A tunnel adds its encapsulation (VXLAN 50 bytes, GRE with a key 42) to every frame of
the network it carries; when the network's MTU plus that is more than the MTU of the
interface the tunnel sends through, the bigger packets vanish without an error (the
kernel keeps its VXLAN port within the NIC's MTU, so its bridge drops bigger frames
there, and Open vSwitch never fragments): pings pass, full-size packets die (TCP may
still get through the kernel's VXLAN, segmented late). Each tunnel of this host is checked
against its own underlay interface; `fabric lab doctor` also holds it against the
smallest MTU on the lab segment between the two hosts, which this host cannot see.
"""

from dataclasses import asdict, dataclass

from fabric.doctor import ovs_view
from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.net import addrs, links, rtnl, tunnels

TAG = "fabric:"
GRE_KEY = 4     # Open vSwitch's GRE ports carry the network's VNI as GRE key


@dataclass(frozen=True)
class Path:
    network: str
    tunnel: str             # the tunnel's interface, or its Open vSwitch port
    kind: str
    mtu: int                # the largest frame the network hands the tunnel
    overhead: int
    remote: str | None      # the other end, where one tunnel has one
    lower: str | None       # the interface it leaves the host by
    lower_mtu: int | None
    kernel: bool = False    # the kernel's tunnel, whose own MTU follows its NIC's

    @property
    def needs(self) -> int:
        return self.mtu + self.overhead

    def json(self) -> dict:
        return asdict(self)


def paths(scene: Scene) -> list[Path]:
    with rtnl.rtnl(scene.netns) as ipr:
        found = _kernel(scene, ipr)
        view = ovs_view.read(scene.root)
        if view is not None:
            found += _ovs(scene, ipr, view)
    return found


def _kernel(scene: Scene, ipr) -> list[Path]:
    out = []
    held = {a.address: a.ifname for a in addrs.list_addrs(ipr)}
    every = links.list_links(ipr)
    for t in tunnels.tunnels(ipr):
        if not (t.alias or "").startswith(TAG):
            continue
        n = scene.words.network((t.alias or "")[len(TAG):].split(":")[0])
        if n is None:
            continue    # a tunnel of no network: the orphan check's
        lower = t.lower or held.get(t.local or "")
        link = links.get(ipr, lower) if lower else None
        # the kernel keeps a tunnel's own MTU within its underlay's, so the frames it
        # cannot carry are the bigger ones its bridge's other ports hand it
        port = next((x for x in every if x.name == t.name), None)
        handed = max([t.mtu] + [x.mtu for x in every if port is not None and port.master
                                and x.master == port.master and x.name != t.name])
        out.append(Path(n.name, t.name, t.kind, handed, tunnels.OVERHEAD[t.kind], None,
                        lower, link.mtu if link else None, kernel=True))
    return out


def _ovs(scene: Scene, ipr, view: ovs_view.View) -> list[Path]:
    out = []
    for p in view.ports:
        n = scene.words.network(p.ids.get("fabric-network", "")[:12])
        remote = p.options.get("remote_ip")
        if n is None or p.kind not in ("gre", "vxlan") or not remote:
            continue
        inner = links.get(ipr, p.bridge)
        lower = tunnels.route_dev(ipr, remote)
        mtus = [x.mtu for x in (links.get(ipr, lower) if lower else None,
                                links.get(ipr, view.nic) if view.nic else None) if x]
        overhead = tunnels.OVERHEAD["vxlan"] if p.kind == "vxlan" else \
            tunnels.OVERHEAD["gretap"] + (GRE_KEY if "key" in p.options else 0)
        out.append(Path(n.name, p.name, p.kind, inner.mtu if inner else 1500, overhead,
                        remote, view.nic or lower, min(mtus) if mtus else None))
    return out


def check(scene: Scene, found: list[Path]) -> list[Finding]:
    out = []
    for p in found:
        if p.lower_mtu is None or p.needs <= p.lower_mtu:
            continue
        to = f" to {p.remote}" if p.remote else ""
        out.append(Finding(
            "mtu", f"network {p.network}'s {p.kind.upper()} tunnel {p.tunnel}{to} needs "
            f"{p.mtu} + {p.overhead} = {p.needs} bytes, but {p.lower} has MTU {p.lower_mtu}: "
            f"packets over {p.lower_mtu - p.overhead} bytes vanish (an MTU black hole)",
            f"ip link set dev {p.lower} mtu {p.needs} (and on the way to the other end)"
            + (f", then ip link set dev {p.tunnel} mtu {p.mtu}" if p.kernel else "")
            + f", or re-create network {p.network} with -o mtu={p.lower_mtu - p.overhead}"))
    return out
