"""Frames on the wire for the mesh tests: VXLAN packets made by hand and sent into a
host's tunnel from another host's namespace (as a compromised host could), frames sent
from a container to a MAC nobody published, a watch on a container's eth0 for one
marked frame, and a device's counters."""

import json
import socket
import time

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from fabric.net import nsexec

ETH_P_ALL = 0x0003
VXLAN_PORT = 4789


def frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, marker: bytes,
          udp: bool = False) -> bytes:
    l4 = UDP(sport=40000, dport=40000) if udp else ICMP()
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / l4 /
                 Raw(marker))


def vxlan(vni: int, inner: bytes) -> bytes:
    """The 8-byte VXLAN header (flags: a VNI is present) and the inner frame."""
    return bytes([0x08, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0" + inner


def inject(netns: str, underlay: str, vni: int, inner: bytes) -> None:
    """Send `inner` into the tunnel of the host at `underlay`, from `netns`."""
    s = nsexec.run(netns, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(vxlan(vni, inner), (underlay, VXLAN_PORT))
    finally:
        s.close()


def send_frames(netns: str, ifname: str, raw: bytes, count: int) -> None:
    s = nsexec.run(netns, socket.socket, socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((ifname, 0))
        for _ in range(count):
            s.send(raw)
    finally:
        s.close()


class Tap:
    """Frames seen on an interface of a namespace, from the moment it is opened."""

    def __init__(self, netns: str, ifname: str):
        self.s = nsexec.run(netns, socket.socket, socket.AF_PACKET, socket.SOCK_RAW,
                            socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.setblocking(False)

    def seen(self, marker: bytes, timeout: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.s.recv(65535)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if marker in data:
                return True
        return False

    def close(self) -> None:
        self.s.close()


def counter(h, ifname: str, name: str) -> int:
    """A device's counter inside host `h`'s namespace: rx_packets, tx_dropped..."""
    way, _, what = name.partition("_")
    doc = json.loads(h.sh(f"ip -j -s link show dev {ifname}").stdout)[0]
    return int(doc["stats64"][way][what])


def mtu(h, ifname: str) -> int:
    return int(json.loads(h.sh(f"ip -j link show dev {ifname}").stdout)[0]["mtu"])
