"""What the kernel of one namespace decides for a packet, asked over netlink the way
`ip route get` and `bridge fdb get` ask: the route chosen for the packet's own
source, destination and incoming interface, the bridge port its destination MAC is
learnt on, the remote VTEP a VXLAN device sends a MAC to.

Asked after the probe, so a route or FDB entry changed in between would show the new
one; in a lab nothing changes in that tenth of a second.
"""

import errno
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

from fabric.net import links as linkmod
from fabric.net import neigh, rtnl
from fabric.net.routes import RTPROT_FABRIC

RTM_F_FIB_MATCH = 0x2000       # answer with the FIB entry that matched (`ip route get fibmatch`)
RTN_LOCAL, RTN_UNREACHABLE, RTN_PROHIBIT, RTN_BLACKHOLE = 2, 7, 8, 6
PROTOS = {2: "kernel", 3: "boot", 4: "static", RTPROT_FABRIC: "fabric"}
NUD_INCOMPLETE, NUD_FAILED = 0x01, 0x20
TYPES = {RTN_UNREACHABLE: "unreachable", RTN_PROHIBIT: "prohibit", RTN_BLACKHOLE: "blackhole"}


@dataclass(frozen=True)
class Route:
    text: str                   # as `ip route` prints the entry: "10.40.2.0/24 via ..."
    gateway: str | None = None
    dev: str | None = None
    proto: str = ""
    local: bool = False
    error: str | None = None    # why there is no route: "no route", "forwarding is off"
    dst: str = ""               # the route's own prefix: "10.40.2.0/24", "default"


class Kernel:
    """One namespace's links, routes and forwarding databases; one netlink socket."""

    def __init__(self, netns: str | None):
        self.netns = netns
        self.ipr = rtnl.open_ns(netns)
        self.links = {link.index: link for link in linkmod.list_links(self.ipr)}
        self._fdb: list[neigh.FdbEntry] | None = None

    def close(self) -> None:
        self.ipr.close()

    def name(self, index: int | None) -> str | None:
        link = self.links.get(index or 0)
        return link.name if link else None

    def link(self, name: str | None) -> linkmod.Link | None:
        return next((lk for lk in self.links.values() if lk.name == name), None)

    def master(self, name: str | None) -> str | None:
        link = self.link(name)
        return self.name(link.master) if link and link.master else None

    def kind(self, name: str | None) -> str | None:
        link = self.link(name)
        return link.kind if link else None

    # --- routes -----------------------------------------------------------------------

    def route(self, dst: str, src: str | None = None, iif: str | None = None) -> Route:
        """The route the kernel picks: for a packet arriving on `iif` (forwarded or
        delivered), or made here (no iif)."""
        spec: dict = {"dst": dst, "flags": RTM_F_FIB_MATCH}
        if iif is not None:
            link = self.link(iif)
            if link is None:
                return Route(f"{dst}: {iif} is gone", error=f"{iif} is gone")
            spec.update(iif=link.index, src=src)
        try:
            m = rtnl.retry(self.ipr.route, "get", **spec)[0]
        except NetlinkError as e:
            return self._no_route(dst, iif, e.code)
        kind = m["type"]
        prefix = f"{m.get('dst') or '0.0.0.0'}/{m['dst_len']}"
        prefix = "default" if prefix == "0.0.0.0/0" else prefix
        if kind in TYPES:
            return Route(f"{TYPES[kind]} {prefix}", error=f"a route of type {TYPES[kind]} "
                         f"({prefix})")
        gw, dev = m.get("gateway"), self.name(m.get("oif"))
        proto = PROTOS.get(m["proto"], str(m["proto"]))
        if kind == RTN_LOCAL:
            return Route(f"local {dst} dev {dev}", dev=dev, proto=proto, local=True, dst=dst)
        text = prefix + (f" via {gw}" if gw else "") + (f" dev {dev}" if dev else "") + \
            f" proto {proto}"
        return Route(text, gw, dev, proto, dst=prefix)

    def _no_route(self, dst: str, iif: str | None, code: int) -> Route:
        if code == errno.ENETUNREACH:
            return Route(f"no route to {dst}", error="no route")
        if code == errno.EHOSTUNREACH and iif is not None and not self._forwarding(iif):
            return Route(f"{dst}: forwarding is off on {iif}", error="forwarding is off")
        if code == errno.EXDEV:
            return Route(f"{dst} from {iif}: the source fails the reverse path check",
                         error="rp_filter")
        return Route(f"{dst}: {errno.errorcode.get(code, code)}", error="no route")

    def _forwarding(self, iif: str) -> bool:
        from fabric.net import sysctl
        try:
            return sysctl.get(f"net/ipv4/conf/{iif}/forwarding", self.netns) == "1"
        except Exception:   # noqa: BLE001 - only a hint for the message
            return True

    def unanswered(self, dev: str | None, address: str) -> bool:
        """Whether the namespace asked for `address`'s MAC on `dev` and got no answer
        (yet): its neighbour entry is INCOMPLETE or FAILED."""
        link = self.link(dev)
        if link is None:
            return False
        for m in rtnl.retry(lambda: list(self.ipr.get_neighbours(ifindex=link.index))):
            if m.get("NDA_DST") == address:
                return bool(m["state"] & (NUD_INCOMPLETE | NUD_FAILED))
        return False

    def neighbour(self, dev: str | None, address: str) -> str | None:
        """The MAC the namespace has for `address` on `dev` (its ARP cache)."""
        return next((n.mac for n in neigh.list_neighbours(self.ipr, dev)
                     if n.ip == address and n.mac), None)

    # --- bridges and tunnels ----------------------------------------------------------

    def fdb(self) -> list[neigh.FdbEntry]:
        if self._fdb is None:
            self._fdb = neigh.list_fdb(self.ipr)
        return self._fdb

    def bridge_port(self, bridge: str, mac: str | None) -> str | None:
        """The port of `bridge` that `mac` is learnt (or set) on; the bridge's own name
        for its own MAC."""
        if not mac:
            return None
        br = self.link(bridge)
        if br is not None and br.mac == mac:
            return bridge
        ports = {lk.name for lk in self.links.values() if br and lk.master == br.index}
        return next((e.dev for e in self.fdb()
                     if e.mac == mac and e.dev in ports and e.master), None)

    def vtep(self, device: str, mac: str | None) -> str | None:
        """The remote VTEP a VXLAN device sends frames for `mac` to (its own FDB)."""
        return next((e.dst for e in self.fdb()
                     if e.dev == device and e.mac == mac and e.dst and not e.master), None)
