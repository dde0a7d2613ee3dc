"""A throwaway lab for firewall tests, built with pyroute2 directly.

A "host" namespace holds bridges (one per network) and an uplink veth to an "outside"
namespace; each "container" is a namespace with `eth0` on one bridge. Nothing is made
in the machine's own namespace, and `destroy()` deletes every namespace it made (the
bridges and veths go with the host namespace), whatever state a test left.
"""

import ipaddress
import subprocess
from dataclasses import dataclass, field

from pyroute2 import IPRoute

from fabric.firewall.intent import EndpointIntent, FirewallFacts, FirewallIntent, NetworkIntent
from fabric.host.bare import Namespaces

UPLINK_HOST = "198.51.100.1"
UPLINK_OUT = "198.51.100.2"


@dataclass
class Net:
    id: str
    name: str
    bridge: str
    subnet: str
    gateway: str
    icc: bool = True
    internal: bool = False
    unnatted: tuple[str, ...] = ()


@dataclass
class Ctr:
    name: str
    ns: str
    net: Net
    host_if: str
    ip: str
    mac: str


@dataclass
class Topo:
    uid: str
    host: str = ""
    outside: str = ""
    nets: dict[str, Net] = field(default_factory=dict)
    ctrs: dict[str, Ctr] = field(default_factory=dict)
    spaces: Namespaces = field(init=False)

    def __post_init__(self) -> None:
        self.spaces = Namespaces(f"fabfw{self.uid}-")

    # --- building -------------------------------------------------------------------

    def _ns(self, role: str) -> str:
        return self.spaces.make(role)  # lo up

    def build_host(self, br_netfilter: bool) -> None:
        self.host = self._ns("h")
        self.outside = self._ns("o")
        sysctl(self.host, "net/ipv4/ip_forward", "1")
        # br_netfilter is built into this kernel and on by default in every namespace
        sysctl(self.host, "net/bridge/bridge-nf-call-iptables", "1" if br_netfilter else "0")
        up = f"fwu{self.uid}"
        with IPRoute(netns=self.host) as ipr:
            ipr.link("add", ifname=up, kind="veth",
                     peer={"ifname": "eth0", "net_ns_fd": self.outside})
            i = ipr.link_lookup(ifname=up)[0]
            ipr.addr("add", index=i, address=UPLINK_HOST, prefixlen=24)
            ipr.link("set", index=i, state="up")
        with IPRoute(netns=self.outside) as ipr:
            i = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=i, address=UPLINK_OUT, prefixlen=24)
            ipr.link("set", index=i, state="up")

    def add_net(self, key: str, subnet: str, icc: bool = True, internal: bool = False,
                unnatted: tuple[str, ...] = ()) -> Net:
        net = ipaddress.IPv4Network(subnet)
        n = Net(f"net-{key}-{self.uid}", f"{key}{self.uid}", f"fwb{self.uid}{key}", subnet,
                str(net.network_address + 1), icc, internal, unnatted)
        with IPRoute(netns=self.host) as ipr:
            ipr.link("add", ifname=n.bridge, kind="bridge")
            i = ipr.link_lookup(ifname=n.bridge)[0]
            ipr.addr("add", index=i, address=n.gateway, prefixlen=net.prefixlen)
            ipr.link("set", index=i, state="up")
        self.nets[key] = n
        return n

    def add_ctr(self, name: str, net_key: str, host_index: int, hairpin: bool = True) -> Ctr:
        n = self.nets[net_key]
        net = ipaddress.IPv4Network(n.subnet)
        ip = str(net.network_address + host_index)
        u = self.uid
        mac = f"02:{host_index:02x}:{u[0:2]}:{u[2:4]}:{u[4:6]}:{len(self.ctrs) + 1:02x}"
        ns = self._ns(name)
        c = Ctr(name, ns, n, f"fwv{self.uid}{name}"[:15], ip, mac)
        with IPRoute(netns=self.host) as ipr:
            ipr.link("add", ifname=c.host_if, kind="veth",
                     peer={"ifname": "eth0", "net_ns_fd": ns, "address": mac})
            i = ipr.link_lookup(ifname=c.host_if)[0]
            br = ipr.link_lookup(ifname=n.bridge)[0]
            ipr.link("set", index=i, master=br, state="up")
            if hairpin:
                # a container reaching its own published port through the host's
                # address comes back out of the port it went in by (Docker does this
                # too without its proxy); the driver sets it on real endpoints
                ipr.brport("set", index=i, mode=1)  # IFLA_BRPORT_MODE: hairpin
        with IPRoute(netns=ns) as ipr:
            i = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=i, address=ip, prefixlen=net.prefixlen)
            ipr.link("set", index=i, state="up")
            ipr.route("add", dst="0.0.0.0/0", gateway=n.gateway)
        self.ctrs[name] = c
        return c

    # --- intent ------------------------------------------------------------------------

    def intent(self, **kw) -> FirewallIntent:
        nets = tuple(NetworkIntent(n.id, n.name, FirewallFacts((n.bridge,), icc=n.icc,
                                                               unnatted=n.unnatted),
                                   (n.subnet,), (n.gateway,), internal=n.internal)
                     for n in self.nets.values())
        eps = tuple(EndpointIntent(c.net.id, f"ctr-{c.name}", c.host_if, c.ip, c.mac)
                    for c in self.ctrs.values())
        return FirewallIntent(networks=nets, endpoints=eps, **kw)

    @property
    def made(self) -> list[str]:
        return self.spaces.made

    def destroy(self) -> None:
        self.spaces.remove()


def sysctl(ns: str, key: str, value: str) -> None:
    from fabric.net import nsexec

    def write():
        with open(f"/proc/sys/{key}", "w") as f:
            f.write(value)
    nsexec.run(ns, write)


def run(ns: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=30, check=False)
