"""`via` on an underlay recognises a probe inside a tunnel: the inner packet of VXLAN
and of GRE (keyed, carrying a frame as Open vSwitch's GRE ports do, or IPv4)."""

import socket
import struct

from fabric.probe import packets


def ipv4(proto: int, src: str, dst: str, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload


PROBE = ipv4(packets.ICMP, "10.40.0.2", "10.40.1.2", packets.echo_request(7, 1, b"x"))
FRAME = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + PROBE


def outer(proto: int, payload: bytes) -> packets.IPv4:
    pkt = packets.parse_ipv4(ipv4(proto, "192.168.18.11", "192.168.18.12", payload))
    assert pkt is not None
    return pkt


def test_vxlan_and_gre_give_the_probe_inside():
    vxlan = struct.pack("!HHHH", 40000, 4789, 8 + 8 + len(FRAME), 0) + \
        struct.pack("!II", 0x08000000, 42 << 8) + FRAME
    keyed_frame = struct.pack("!HHI", 0x2000, packets.GRE_ETHERNET, 9) + FRAME
    plain_ip = struct.pack("!HH", 0, packets.GRE_IPV4) + PROBE
    for pkt in (outer(packets.UDP, vxlan), outer(packets.GRE, keyed_frame),
                outer(packets.GRE, plain_ip)):
        inner = packets.decapsulate(pkt)
        assert inner is not None and (inner.src, inner.dst) == ("10.40.0.2", "10.40.1.2")
        assert packets.echo_ids(inner) == (packets.ECHO_REQUEST, 7, 1)


def test_what_is_not_a_tunnel_has_nothing_inside():
    arp_in_gre = struct.pack("!HHI", 0x2000, packets.GRE_ETHERNET, 9) + FRAME[:12] + \
        b"\x08\x06" + b"\0" * 28
    for pkt in (outer(packets.GRE, arp_in_gre), outer(packets.GRE, b"\0\0"),
                outer(packets.UDP, struct.pack("!HHHH", 1, 53, 8, 0))):
        assert packets.decapsulate(pkt) is None
