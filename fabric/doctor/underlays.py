"""The host's underlay: the interfaces other hosts' traffic for fabric's networks
arrives on and leaves by. Its address (cluster-advertise), the way to each peer of a
network the hosts share, and what each of fabric's tunnels sends through."""

from fabric.doctor.scene import Scene
from fabric.net import addrs, rtnl, tunnels


def interfaces(scene: Scene) -> dict[str, str]:
    """ifname -> why it is an underlay, in a few words."""
    out: dict[str, str] = {}
    mine = scene.settings.cluster_advertise
    with rtnl.rtnl(scene.netns) as ipr:
        if mine:
            for a in addrs.list_addrs(ipr):
                if a.address == mine:
                    out.setdefault(a.ifname, f"it holds cluster-advertise {mine}")
        for _, net in scene.models():
            for p in net.peers:
                dev = tunnels.route_dev(ipr, p.underlay) if p.underlay else None
                if dev:
                    out.setdefault(dev, f"network {net.name} reaches {p.host} through it")
        for t in tunnels.tunnels(ipr):
            if t.lower and t.alias and t.alias.startswith("fabric:"):
                out.setdefault(t.lower, f"tunnel {t.name} sends through it")
    return out
