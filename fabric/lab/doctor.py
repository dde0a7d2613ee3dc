"""`fabric lab doctor NAME [--fix]`: `fabric doctor` on every host of a lab (each host's
daemon runs its checks, hosts in parallel), and what only the lab sees: a tunnel
whose underlay is fine on its own host while the lab segment on the way to the other
end carries less (another host's NIC, a segment port), which neither host finds alone.
"""

from concurrent.futures import ThreadPoolExecutor

from fabric.client.http import ApiError, DaemonUnavailable
from fabric.errors import FabricError
from fabric.lab import live, model, naming


def run(lab: model.Lab, fix: bool = False) -> list[dict]:
    """One report per host ({"Host", "Findings", "Tunnels"}, as `fabric doctor --json`
    has it), the lab's own findings added to the host they concern."""
    def one(h: model.Host) -> dict:
        try:
            c = live.client(lab.name, h.name)
            doc = c.call("POST", "/fabric/doctor/fix") if fix else c.get("/fabric/doctor")
        except (ApiError, DaemonUnavailable, FabricError, OSError) as e:
            doc = {"Findings": [{"check": "daemon", "what": f"its daemon does not answer "
                                 f"({e})", "fix": f"fabric lab down {lab.name} && fabric lab "
                                 f"up {lab.file}", "fixable": False, "fixed": False}],
                   "Tunnels": []}
        return {**doc, "Host": h.name}

    with ThreadPoolExecutor(max_workers=min(8, len(lab.hosts) or 1),
                            thread_name_prefix="doctor") as ex:
        reports = list(ex.map(one, lab.hosts))
    mtus = _nic_mtus(lab)
    for rep in reports:
        rep["Findings"] += _segment_mtu(lab, rep, mtus)
    return reports


def _nic_mtus(lab: model.Lab) -> dict[tuple[str, str], int]:
    """(host, NIC) -> MTU, for the hosts made here, and the segment bridges' ports."""
    from fabric.net import links, rtnl
    out: dict[tuple[str, str], int] = {}
    for h in lab.hosts:
        if h.remote is not None:
            continue    # another machine's LAN is its own to look at
        for nic in h.nics:
            for ns, name in ((naming.host_netns(lab.name, h.name), nic.ifname),
                             (naming.segment_netns(lab.name, nic.segment),
                              naming.port(h.name, nic.ifname))):
                try:
                    with rtnl.rtnl(ns) as ipr:
                        link = links.get(ipr, name)
                except Exception:  # noqa: BLE001 - a host or segment gone: nothing to read
                    link = None
                if link is not None:
                    key = (h.name, nic.ifname)
                    out[key] = min(out.get(key, link.mtu), link.mtu)
    return out


def _segment_mtu(lab: model.Lab, rep: dict, mtus: dict) -> list[dict]:
    h = lab.host(rep["Host"])
    if h is None:
        return []
    out = []
    for t in rep.get("Tunnels", []):
        if t["lower_mtu"] is not None and t["mtu"] + t["overhead"] > t["lower_mtu"]:
            continue    # the host's own check said so already
        far, seg = _other_end(lab, h, t.get("remote"))
        if far is None:
            continue
        path = [(who.name, nic.ifname, mtus[(who.name, nic.ifname)])
                for who in (h, far) for nic in who.nics
                if nic.segment == seg and (who.name, nic.ifname) in mtus]
        if not path:
            continue
        who, ifname, least = min(path, key=lambda p: p[2])
        needs = t["mtu"] + t["overhead"]
        if needs > least:
            out.append({"check": "mtu", "fixable": False, "fixed": False,
                        "what": f"network {t['network']}'s {t['kind'].upper()} tunnel "
                        f"{t['tunnel']} to {far.name} needs {needs} bytes on segment {seg}, "
                        f"but {who}'s {ifname} there has MTU {least}: packets over "
                        f"{least - t['overhead']} bytes vanish (an MTU black hole)",
                        "fix": f"fabric host exec {naming.host_ref(lab.name, who)} ip link "
                        f"set dev {ifname} mtu {needs}"})
    return out


def _other_end(lab: model.Lab, h: model.Host, remote: str | None):
    """(the lab host at `remote`, the segment it shares with `h`)."""
    for far in lab.hosts:
        for nic in far.nics:
            if nic.address is not None and str(nic.address.ip) == remote:
                mine = {n.segment for n in h.nics}
                return (far, nic.segment) if nic.segment in mine else (None, None)
    return None, None
