"""Measurements of a path between two namespaces, for `fabric lab compare`, impairment
tests and benchmarks: TCP goodput through the prober's byte sink, one-way loss by
counting numbered UDP datagrams at the far end, TCP throughput by Debian's iperf3, the
round-trip time by busybox's ping, the time until an address answers, and the MTU a
namespace sends with. The programs run inside the namespaces (their threads' network
namespace, nothing else), so a container's image need not have them."""

import fcntl
import functools
import json
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

from fabric.errors import FabricError
from fabric.net import nsexec
from fabric.probe.model import Probe
from fabric.probe.send import send

RCVBUF = 4 << 20
SO_RCVBUFFORCE = 33      # root may exceed net.core.rmem_max
PACE = 50                # datagrams between two short pauses: never overrun the receiver


def goodput(src_netns: str | None, sink_netns: str, dst: str, port: int, nbytes: int,
            timeout: float = 30.0) -> float:
    """Bits per second of TCP payload carried from src to a sink at dst:port."""
    out = send(src_netns, Probe("tcp", dst, port, timeout=timeout, nbytes=nbytes,
                                sink_netns=sink_netns))
    if out.result != "ok":
        raise FabricError(f"goodput to {dst}:{port}: {out.result}: {out.detail}")
    return nbytes * 8 / out.elapsed


def _receiver(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        s.bind(("0.0.0.0", port))
        s.settimeout(0.05)
    except BaseException:
        s.close()
        raise
    return s


def one_way_loss(src_netns: str | None, dst_netns: str, dst: str, port: int,
                 count: int = 2000, settle: float = 0.3) -> float:
    """Percent of `count` UDP datagrams sent from src that never reached dst."""
    rx = nsexec.run(dst_netns, _receiver, port)
    tx = nsexec.run(src_netns, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    run_id = struct.pack("!Q", time.monotonic_ns())
    got: set[int] = set()
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            try:
                data = rx.recv(64)
            except TimeoutError:
                continue
            if data[:8] == run_id and len(data) >= 12:
                got.add(struct.unpack("!I", data[8:12])[0])

    reader = threading.Thread(target=collect, name="loss-rx", daemon=True)
    reader.start()
    try:
        tx.connect((dst, port))
        for i in range(count):
            try:
                tx.send(run_id + struct.pack("!I", i))
            except OSError:
                pass          # e.g. a neighbour not resolved yet: counted as lost
            if i % PACE == PACE - 1:
                time.sleep(0.001)
        time.sleep(settle)
    finally:
        stop.set()
        reader.join()
        tx.close()
        rx.close()
    return 100.0 * (count - len(got)) / count


IPERF_PORT = 5201
IPERF_MISSING = "iperf3 is not installed (Debian: apt-get install iperf3)"
TCP_LISTEN = "0A"       # the state column of /proc/net/tcp


def _listening(port: int) -> bool:
    for table in ("tcp", "tcp6"):      # iperf3 listens on :: where it can
        with open(f"/proc/thread-self/net/{table}") as f:
            if any(fields[1].endswith(f":{port:04X}") and fields[3] == TCP_LISTEN
                   for fields in (line.split() for line in list(f)[1:])):
                return True
    return False


def throughput(server_ns: str, client_ns: str, dst: str, seconds: float,
               port: int = IPERF_PORT) -> float:
    """Bits per second of one iperf3 run (`-t seconds`) from client_ns to a one-off
    server in server_ns at dst:port, as the receiver counted them."""
    if shutil.which("iperf3") is None:
        raise FabricError(IPERF_MISSING)
    srv = nsexec.run(server_ns, functools.partial(
        subprocess.Popen, ["iperf3", "-s", "-1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + 5.0
        while not nsexec.run(server_ns, _listening, port):
            if srv.poll() is not None or time.monotonic() > deadline:
                raise FabricError(f"iperf3 did not listen on port {port} in {server_ns}")
            time.sleep(0.02)
        p = nsexec.run(client_ns, functools.partial(
            subprocess.run, ["iperf3", "-c", dst, "-p", str(port), "-t", f"{seconds:g}", "-J"],
            capture_output=True, text=True, timeout=seconds + 30))
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            doc = {"error": p.stderr.strip() or f"exit {p.returncode}"}
        if "error" in doc:
            raise FabricError(f"iperf3 to {dst}:{port}: {doc['error']}")
        return float(doc["end"]["sum_received"]["bits_per_second"])
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait()


def rtt(src_ns: str, dst: str, count: int = 300, interval: float | None = None) -> float:
    """Average round trip in ms of `count` echoes of busybox's ping: adaptive (`-A`, the
    next as soon as the reply is in) unless an `interval` in seconds is given."""
    pace = ["-A"] if interval is None else ["-i", f"{interval:g}"]
    p = nsexec.run(src_ns, functools.partial(
        subprocess.run, ["busybox", "ping", *pace, "-q", "-c", str(count), dst],
        capture_output=True, text=True, timeout=120))
    m = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", p.stdout)
    if m is None:
        said = (p.stdout + p.stderr).strip().splitlines()
        raise FabricError(f"ping {dst} from {src_ns}: {said[-1] if said else 'no output'}")
    return float(m.group(1))


def until(src_ns: str, dst: str, want: str, start: float, limit: float = 10.0,
          timeout: float = 0.05, gap: float = 0.005) -> float:
    """Seconds from `start` (time.monotonic()) until an echo from src_ns to dst has the
    result `want` ("ok": answered; "blocked": nothing comes back); inf after `limit`."""
    while time.monotonic() - start < limit:
        if send(src_ns, Probe("icmp", dst, timeout=timeout)).result == want:
            return time.monotonic() - start
        time.sleep(gap)
    return float("inf")


SIOCGIFADDR, SIOCGIFMTU = 0x8915, 0x8921


def _mtu_of(address: str) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            req = struct.pack("16s16x", name.encode())
            try:
                got = fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)
            except OSError:
                continue         # no IPv4 address
            if socket.inet_ntoa(got[20:24]) == address:
                return struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCGIFMTU, req)[16:20])[0]
    return None


def mtu(netns: str, address: str) -> int | None:
    """The MTU of the interface that holds `address` in `netns` (None: none holds it)."""
    return nsexec.run(netns, _mtu_of, address)
