"""Measurements of a path between two namespaces, for impairment tests and benchmarks:
TCP goodput through the prober's byte sink, and one-way loss by counting numbered UDP
datagrams at the far end."""

import socket
import struct
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
