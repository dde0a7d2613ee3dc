"""What the ovs tests look at: a host's own OVS, and frames counted in namespaces."""

import gc
import os
import socket
import struct
import time

from fabric.net import nsexec
from fabric.ovs import daemons
from fabric.ovs.db import Ovsdb

ETH_TYPE = 0x88B5       # IEEE's "local experimental" EtherType: nothing else sends it
SO_RCVBUFFORCE = 33    # <asm-generic/socket.h>; Python does not name it


def instance(h) -> daemons.Instance:
    return daemons.Instance(os.path.join(h.host.root.path, "ovs"))


def ports(h) -> dict[str, dict]:
    """The host's OVS ports and interfaces by name: {external_ids, type, options}."""
    db = Ovsdb(instance(h).remote)
    try:
        ifaces = {i["name"]: i for i in db.rows("Interface")}
        return {p["name"]: {"external_ids": p["external_ids"], "protected": p["protected"],
                            "type": ifaces[p["name"]]["type"],
                            "options": ifaces[p["name"]]["options"]}
                for p in db.rows("Port")}
    finally:
        db.close()
        # ovsdbapp's queue keeps a pipe in file objects: closed now, not in a later test
        gc.collect()


def ovs_processes(rundir: str) -> list[int]:
    """Processes whose command line names the OVS run directory."""
    out = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if rundir.encode() in f.read():
                    out.append(pid)
        except OSError:
            continue
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        total += int(fields[11]) + int(fields[12])     # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def listener(netns: str) -> socket.socket:
    """A packet socket on the container's eth0 for fabric's test EtherType."""
    def make() -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_TYPE))
        s.bind(("eth0", ETH_TYPE))
        # room for every frame until the test reads them (the default holds ~250)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        s.setblocking(False)
        return s
    return nsexec.run(netns, make)


def broadcast(netns: str, count: int) -> None:
    """`count` broadcast frames out of the container's eth0, each with its number."""
    def send() -> None:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind(("eth0", 0))
        src = s.getsockname()[4]
        for i in range(count):
            s.send(b"\xff" * 6 + src + struct.pack("!HI", ETH_TYPE, i) + b"\0" * 40)
            if i % 50 == 49:
                time.sleep(0.002)   # paced like a chatty host, not a flood
        s.close()
    nsexec.run(netns, send)


def drain(sock: socket.socket) -> dict[int, int]:
    """How often each numbered frame arrived."""
    seen: dict[int, int] = {}
    while True:
        try:
            frame = sock.recv(2048)
        except BlockingIOError:
            return seen
        n = struct.unpack("!I", frame[14:18])[0]
        seen[n] = seen.get(n, 0) + 1
