"""Real traffic between namespaces, from this one process.

A socket belongs to the namespace it was created in, so each one is created on a
thread that entered the namespace (fabric.firewall.nsexec) and then used from
anywhere. Servers answer with the address they saw the client come from, so a test
can tell DNAT from masquerade. Probes run in parallel: a blocked probe costs one
timeout, not one per probe.
"""

import os
import select
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fabric.net import nsexec

TIMEOUT = 0.5


def sock(ns: str, family=socket.AF_INET, kind=socket.SOCK_STREAM, proto=0) -> socket.socket:
    return nsexec.run(ns, socket.socket, family, kind, proto)


class Servers:
    """TCP and UDP listeners in several namespaces, served by one thread."""

    def __init__(self):
        self.socks: dict[socket.socket, str] = {}   # socket -> "tcp"|"udp"|"conn"
        self.seen: list[tuple[str, str, int, bytes]] = []  # (ns, peer ip, port, data)
        self._ns: dict[socket.socket, tuple[str, int]] = {}
        self._stop = False
        self._r, self._w = os.pipe()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def tcp(self, ns: str, port: int, ip: str = "0.0.0.0") -> None:
        s = sock(ns)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen(64)
        s.setblocking(False)
        self._add(s, "tcp", ns, port)

    def udp(self, ns: str, port: int, ip: str = "0.0.0.0") -> None:
        s = sock(ns, kind=socket.SOCK_DGRAM)
        s.bind((ip, port))
        s.setblocking(False)
        self._add(s, "udp", ns, port)

    def _add(self, s, kind, ns, port):
        self._ns[s] = (ns, port)
        self.socks[s] = kind
        os.write(self._w, b"x")

    def _loop(self):
        while not self._stop:
            r, _, _ = select.select(list(self.socks) + [self._r], [], [], 0.5)
            for s in r:
                if s == self._r:
                    os.read(self._r, 64)
                    continue
                kind = self.socks.get(s)
                try:
                    if kind == "tcp":
                        c, peer = s.accept()
                        ns, port = self._ns[s]
                        self.seen.append((ns, peer[0], port, b""))
                        c.sendall(peer[0].encode())
                        c.close()
                    elif kind == "udp":
                        data, peer = s.recvfrom(2048)
                        ns, port = self._ns[s]
                        self.seen.append((ns, peer[0], port, data))
                        s.sendto(peer[0].encode(), peer)
                except OSError:
                    pass

    def got(self, ns: str, data: bytes) -> bool:
        return any(n == ns and d == data for n, _, _, d in self.seen)

    def close(self):
        self._stop = True
        os.write(self._w, b"x")
        self._t.join(2)
        for s in list(self.socks):
            s.close()
        os.close(self._r)
        os.close(self._w)


def tcp(ns: str, ip: str, port: int, timeout: float = TIMEOUT) -> str | None:
    """Connect; the server's answer (the client address it saw), or None if blocked."""
    s = sock(ns)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        return s.recv(64).decode() or None
    except OSError:
        return None
    finally:
        s.close()


def udp(ns: str, ip: str, port: int, timeout: float = TIMEOUT) -> str | None:
    s = sock(ns, kind=socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b"probe", (ip, port))
        return s.recv(64).decode() or None
    except OSError:
        return None
    finally:
        s.close()


def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(ns: str, ip: str, timeout: float = TIMEOUT) -> bool:
    """One ICMP echo through a raw socket made in `ns`."""
    s = sock(ns, kind=socket.SOCK_RAW, proto=socket.IPPROTO_ICMP)
    ident = int.from_bytes(os.urandom(2), "big")
    body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"fabric-ping"
    pkt = body[:2] + struct.pack("!H", _csum(body)) + body[4:]
    try:
        s.sendto(pkt, (ip, 0))
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return False
            data, peer = s.recvfrom(2048)
            hl = (data[0] & 0x0F) * 4
            typ, _, _, rid = struct.unpack("!BBHH", data[hl:hl + 6])
            if typ == 0 and rid == ident and peer[0] == ip:
                return True
        return False
    except OSError:
        return False
    finally:
        s.close()


def parallel(calls: dict) -> dict:
    """{key: (fn, args...)} -> {key: result}, all at once."""
    with ThreadPoolExecutor(max_workers=min(128, max(1, len(calls)))) as ex:
        futs = {k: ex.submit(c[0], *c[1:]) for k, c in calls.items()}
        return {k: f.result() for k, f in futs.items()}


def send_frames(ns: str, frames: list[bytes], ifname: str = "eth0") -> None:
    """Raw Ethernet frames out of `ifname` in `ns`, as a container could send them."""
    s = sock(ns, family=socket.AF_PACKET, kind=socket.SOCK_RAW)
    try:
        s.bind((ifname, 0))
        for f in frames:
            s.send(f)
    finally:
        s.close()


def udp_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, dport: int,
              payload: bytes) -> bytes:
    """An Ethernet/IPv4/UDP frame crafted with scapy (checksums filled in)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip)
                 / UDP(sport=40000, dport=dport) / payload)


def arp_reply(src_mac: str, dst_mac: str, claimed_ip: str, dst_ip: str) -> bytes:
    """An ARP reply saying `claimed_ip is-at src_mac`."""
    from scapy.layers.l2 import ARP, Ether
    return bytes(Ether(src=src_mac, dst=dst_mac)
                 / ARP(op=2, hwsrc=src_mac, psrc=claimed_ip, hwdst=dst_mac, pdst=dst_ip))

