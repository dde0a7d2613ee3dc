"""The hops a packet makes inside a host's Open vSwitch bridge, added to the passes
on either side of it: where it went into OVS (a container's veth, or the bridge's own
port from the host's stack) the flow `ofproto/trace` finds for it, and a tunnel's
encapsulation when that flow ends in one; where it came out of OVS after a tunnel
(its source MAC learnt on a tunnel port), the decapsulation and the flow that
delivered it.
"""

from fabric.trace import model
from fabric.trace.model import Hop, Pass
from fabric.trace.ovs import Flow, Ovs, Port
from fabric.trace.packet import ICMP, Packet


def fields(in_port: str, src_mac: str, dst_mac: str, pkt: Packet, tunnel: Port | None
           ) -> str:
    """The flow as ofproto/trace reads it."""
    out = [f"in_port={in_port}"]
    if tunnel is not None:
        out += [f"tun_id={tunnel.option('key') or 0}",
                f"tun_src={tunnel.option('remote_ip')}"]
    out += [f"dl_src={src_mac}", f"dl_dst={dst_mac}"]
    proto = {ICMP: "icmp", 6: "tcp", 17: "udp"}.get(pkt.proto, "ip")
    out += [proto, f"nw_src={pkt.src}", f"nw_dst={pkt.dst}", f"nw_ttl={pkt.ttl}"]
    if pkt.proto == ICMP:
        out += [f"icmp_type={pkt.icmp_type}", f"icmp_code={pkt.icmp_code}"]
    elif pkt.sport is not None:
        out += [f"tp_src={pkt.sport}", f"tp_dst={pkt.dport}"]
    return ",".join(out)


class OvsHops:
    """For one namespace's passes: the kernel and words of its Builder, the host's OVS."""

    def __init__(self, builder, ovs: Ovs):
        self.b, self.ovs = builder, ovs

    def _owner(self, port: Port) -> str:
        if port.tunnel:
            remote = self.b.words.container(port.option("remote_ip") or "?")
            return f"{port.name} ({port.kind} to {remote})"
        if port.name == port.bridge:
            return f"{port.name} (the host)"
        owner = self.b.words.port_owner(port.name)
        return f"{port.name} ({owner})" if owner else port.name

    def _port_of(self, container: str, address: str) -> str | None:
        """The host side of a container's veth, by the container's address on it."""
        w = self.b.words
        ep = w.endpoint(address)
        return ep.host_ifname if ep and w.container(ep.container_id) == container else None

    def _flow_hop(self, p: Pass, into: str, flow: Flow, pkt: Packet) -> Hop:
        outs = ", ".join(self._owner(o) for o in flow.outputs) or "nowhere"
        verdict = "forward" if flow.outputs else "drop"
        return self.b.hop(p.direction, f"{into} -> {outs}", "bridge", verdict,
                          flow.summary(),
                          f"OVS bridge {flow.bridge}: to {outs}" if flow.outputs else
                          f"dropped by OVS bridge {flow.bridge} (datapath: {flow.actions})",
                          pkt)

    def _encap(self, p: Pass, t: Port, pkt: Packet) -> Hop:
        remote = t.option("remote_ip") or "?"
        return self.b.hop(p.direction, t.name, "encap", "encap",
                          f"{t.kind} key={t.option('key')} remote_ip={remote}",
                          f"{t.kind.upper()} to {self.b.words.who(remote)}", pkt)

    def leaving(self, p: Pass, pkt: Packet, oif: str | None) -> list[Hop]:
        """Hops after the pass, when it handed the packet to OVS."""
        k = self.b.kernel
        if p.origin and self.b.namespace != "host":
            port = self.ovs.port(self._port_of(self.b.namespace, pkt.src))
            in_port = port.name if port else ""
        else:
            port = self.ovs.port(oif)
            in_port = "LOCAL"
            if port is None or port.name != port.bridge:
                return []
        if port is None:
            return []
        hop = k.route(pkt.dst)
        dst_mac = k.neighbour(oif, hop.gateway or pkt.dst) or "ff:ff:ff:ff:ff:ff"
        link = k.link(oif)
        flow = self.ovs.trace(port.bridge, fields(in_port, link.mac if link else "",
                                                  dst_mac, pkt, None))
        out = [self._flow_hop(p, self._owner(port), flow, pkt)]
        if not flow.outputs:
            p.fate, p.reason = model.DROPPED, out[0].reason + f" on host {self.b.host}"
        out += [self._encap(p, t, pkt) for t in flow.outputs if t.tunnel]
        return out

    def arriving(self, p: Pass, pkt: Packet, iif: str | None) -> list[Hop]:
        """Hops before the pass, when OVS handed it the packet from a tunnel."""
        if self.b.namespace != "host":
            port = self.ovs.port(self._port_of(self.b.namespace, pkt.dst))
        else:
            port = self.ovs.port(iif)
        if port is None or pkt.src_mac is None or pkt.dst_mac is None:
            return []
        t = self.ovs.learned(port.bridge, pkt.src_mac)
        if t is None or not t.tunnel:
            return []       # from a port of this host: its own pass told that hop
        p.decap = True
        remote = t.option("remote_ip") or "?"
        flow = self.ovs.trace(port.bridge, fields(t.name, pkt.src_mac, pkt.dst_mac, pkt, t))
        decap = self.b.hop(p.direction, t.name, "decap", "decap",
                           f"{t.kind} key={t.option('key')} from remote_ip {remote}",
                           f"from {self.b.words.who(remote)} through the {t.kind.upper()} "
                           "tunnel", pkt)
        return [decap, self._flow_hop(p, self._owner(t), flow, pkt)]
