"""Throwaway namespaces for prober, runner and impairment tests, wired with `ip`, plus
tiny servers living in them; everything is removed by `close()`, also after a failure
half way through building."""

import os
import secrets
import select
import socket
import subprocess
import threading

from fabric.net import netns, nsexec


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def in_ns(ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=check,
                          capture_output=True, text=True, timeout=30)


def nft(ns: str, script: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, check=True,
                   capture_output=True, text=True)


class Topo:
    def __init__(self, prefix: str = "fp"):
        self.tag = f"{prefix}{secrets.token_hex(3)}"
        self.made: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.servers = Servers()

    def ns(self, role: str) -> str:
        name = f"{self.tag}-{role}"
        netns.create(name)
        self.made.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        # ICMP errors to one peer are rate limited (a burst of 6, then one a second):
        # tests that provoke many would otherwise see silence
        in_ns(name, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
        return name

    def veth(self, a: str, ifa: str, b: str, ifb: str, addr: str | None = None) -> None:
        ip("-n", a, "link", "add", ifa, "type", "veth", "peer", "name", ifb, "netns", b)
        ip("-n", a, "link", "set", ifa, "up")
        ip("-n", b, "link", "set", ifb, "up")
        if addr:
            ip("-n", a, "addr", "add", addr, "dev", ifa)

    def bridge(self, ns: str, name: str = "br0") -> None:
        ip("-n", ns, "link", "add", name, "type", "bridge")
        ip("-n", ns, "link", "set", name, "up")

    def port(self, seg: str, host: str, ifname: str, port: str, addr: str) -> None:
        """A host NIC `ifname` joined to the segment's bridge as `port`."""
        self.veth(host, ifname, seg, port, addr)
        ip("-n", seg, "link", "set", port, "master", "br0")

    def spawn(self, ns: str, *cmd: str) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def close(self) -> None:
        self.servers.close()
        for p in self.procs:
            p.kill()
            p.wait()
        for name in reversed(self.made):
            netns.remove(name)


class Servers:
    """TCP servers that answer an HTTP status line and UDP echo servers, on one
    thread; sockets made in their namespace."""

    def __init__(self) -> None:
        self.socks: dict[socket.socket, str] = {}
        self._r, self._w = os.pipe()
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _add(self, s: socket.socket, kind: str) -> None:
        s.setblocking(False)
        self.socks[s] = kind
        os.write(self._w, b"x")

    def tcp(self, ns: str, port: int) -> None:
        s = nsexec.run(ns, socket.socket)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(64)
        self._add(s, "listen")

    def udp(self, ns: str, port: int) -> None:
        s = nsexec.run(ns, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        self._add(s, "udp")

    def _loop(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([*self.socks, self._r], [], [], 0.5)
            for s in ready:
                if s == self._r:
                    os.read(self._r, 64)
                else:
                    self._serve(s)

    def _serve(self, s: socket.socket) -> None:
        kind = self.socks.get(s)
        try:
            if kind == "listen":
                conn, _ = s.accept()
                self._add(conn, "conn")
            elif kind == "udp":
                data, peer = s.recvfrom(2048)
                s.sendto(b"echo " + data, peer)
            elif kind == "conn":
                if s.recv(4096):
                    s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                del self.socks[s]
                s.close()
        except OSError:
            self.socks.pop(s, None)
            s.close()

    def close(self) -> None:
        self._stop = True
        os.write(self._w, b"x")
        self._t.join()
        for s in self.socks:
            s.close()
        os.close(self._r)
        os.close(self._w)
