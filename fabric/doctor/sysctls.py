"""Kernel settings that silently stop forwarding: ip_forward off, and a strict
reverse-path filter on an interface other hosts' traffic arrives on."""

from fabric.doctor import underlays
from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.net import sysctl

IP_FORWARD = "net.ipv4.ip_forward"
STRICT = "1"


def ip_forward(scene: Scene) -> list[Finding]:
    nets = scene.forwarding()
    if not nets or sysctl.get(IP_FORWARD, scene.netns) != "0":
        return []
    names = ", ".join(n.name for n in nets)
    return [Finding("ip-forward", f"{IP_FORWARD} is 0: containers of {names} reach nothing "
                    "beyond this host, and published ports only from the host itself",
                    f"sysctl -w {IP_FORWARD}=1",
                    repair=lambda: sysctl.set(IP_FORWARD, "1", scene.netns))]


def rp_filter(scene: Scene) -> list[Finding]:
    """The kernel applies the larger of `all` and the interface's own value: 1 (strict)
    drops a packet whose source the host would not route back out of the interface it
    came in on, which asymmetric paths between hosts (several NICs, hand-made routes)
    produce. 2 (loose) only asks that the source be routable at all."""
    out = []
    every = sysctl.get(sysctl.conf_key("all", "rp_filter"), scene.netns)
    for ifname, why in underlays.interfaces(scene).items():
        own = sysctl.get(sysctl.conf_key(ifname, "rp_filter"), scene.netns)
        if max(every, own) != STRICT:
            continue
        which = "net.ipv4.conf.all" if every == STRICT else f"net.ipv4.conf.{ifname}"
        out.append(Finding(
            "rp-filter", f"strict rp_filter on underlay {ifname} ({why}; {which}.rp_filter="
            "1): packets from other hosts that arrive where the route back does not lead "
            "are dropped", f"sysctl -w net.ipv4.conf.{ifname}.rp_filter=2"))
    return out
