"""Several lab hosts on one L2 segment, sharing a cluster store, for tests.

Made the way the labs runtime makes them: each host through fabric.host (its own
namespace, root and daemon), its settings naming the shared store and its underlay
address; the segment a bridge in a bare namespace; each host's eth0 a veth pair into
it, wired through plans. The store is the embedded one, or with `store="etcd"` a
real etcd in a namespace of its own on the segment (ETCD_ADDRESS), as a lab with
`cluster: {store: etcd}` has it. `close()` removes every host, the segment, etcd and
the store, also after a failure half way through.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from fabric.host import bare, hosts
from fabric.lab import etcd
from fabric.net import nsexec
from fabric.plan import (
    AddAddress,
    AddRoute,
    Applier,
    Context,
    CreateVeth,
    EnsureBridge,
    LinkUp,
    SetMaster,
    plan,
)
from fabric.probe import Outcome, Probe, send
from fabric.runtime import sandbox

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
SEGMENT = "lan"


def apply(*ops) -> None:
    with Context() as ctx:
        Applier(ctx).run(plan(*ops))


class LabHost:
    def __init__(self, lab: "MultiHost", name: str, address: str):
        self.lab = lab
        self.name = name
        self.full = f"{lab.name}.{name}"
        self.address = address          # CIDR on the segment
        self.host: hosts.Host | None = None

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]

    @property
    def netns(self) -> str:
        assert self.host is not None
        return self.host.netns

    def fab(self, *args: str, check: bool = True, timeout: float = 60
            ) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env.update(FABRIC_HOSTS_DIR=os.environ["FABRIC_HOSTS_DIR"], FABRIC_HOST=self.full)
        p = subprocess.run([FABRIC, *args], capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{self.name}: fabric {' '.join(args)}: {p.stderr}")
        return p

    def sh(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        assert self.host is not None
        p = self.host.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"{self.name}: {cmd}: {p.stdout}{p.stderr}")
        return p

    def run(self, name: str, *args: str, cmd: str = "sleep 1d") -> "Box":
        cid = self.fab("run", "-d", "--name", name, *args, "busybox", *cmd.split()).stdout.strip()
        return Box(self, name, cid)

    def daemon_log(self) -> str:
        assert self.host is not None
        with open(self.host.root.daemon_log) as f:
            return f.read()


class Box:
    """A container, and the namespace probes are sent from."""

    def __init__(self, host: LabHost, name: str, cid: str):
        self.host, self.name, self.id = host, name, cid
        self.netns = sandbox.netns_name(cid)

    def ip(self, network: str) -> str:
        doc = json.loads(self.host.fab("inspect", self.name).stdout)[0]
        return doc["NetworkSettings"]["Networks"][network]["IPAddress"]

    def probe(self, dst: str, proto: str = "icmp", port: int | None = None,
              timeout: float = 0.5) -> Outcome:
        """One probe from the container; within a machine an answer takes well under a
        millisecond, so half a second of silence is a drop."""
        return send(self.netns, Probe(proto, dst, port, timeout=timeout))

    def source_seen_by(self, server: "Box", dst: str, port: int = 7777) -> str | None:
        """Connect over TCP from this container to `server`'s listener at dst:port, and
        the source address `server` saw (None: no connection)."""
        return seen_source(server.netns, self.netns, dst, port)


def seen_source(server_ns: str, client_ns: str, dst: str, port: int,
                timeout: float = 2.0) -> str | None:
    srv = nsexec.run(server_ns, socket.socket)
    cli = nsexec.run(client_ns, socket.socket)
    try:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))
        srv.listen(1)
        srv.settimeout(timeout)
        cli.settimeout(timeout)
        try:
            cli.connect((dst, port))
            conn, peer = srv.accept()
        except OSError:
            return None
        conn.close()
        return peer[0]
    finally:
        cli.close()
        srv.close()


ETCD_ADDRESS = "192.168.18.250/24"


class MultiHost:
    def __init__(self, prefix: str = "mh", store: str = "sqlite"):
        self.name = f"{prefix}{secrets.token_hex(2)}"
        self.dir = tempfile.mkdtemp(prefix="fcl-", dir="/tmp")
        self.store = f"sqlite://{self.dir}/cluster.db"
        self.spaces = bare.Namespaces(f"fabt{self.name}-")
        self.hosts: dict[str, LabHost] = {}
        self.etcd: etcd.EtcdServer | None = None
        try:
            self.segment = self.spaces.make("seg")
            apply(EnsureBridge(ns=self.segment, name=SEGMENT), LinkUp(ns=self.segment,
                                                                      ifname=SEGMENT))
            if store == "etcd":
                ns = self.outside("etcd", ETCD_ADDRESS)
                self.etcd = etcd.EtcdServer(os.path.join(self.dir, "etcd"), ns,
                                            ETCD_ADDRESS.split("/")[0])
                self.etcd.start()
                self.store = self.etcd.url
        except BaseException:
            self.close()
            raise

    def add(self, name: str, address: str, settings: dict | None = None,
            routes: tuple[tuple[str, str], ...] = (), nic_bridge: str | None = None,
            cluster: bool = True) -> LabHost:
        """Host `name` with eth0 at `address` on the segment, its settings, routes
        (to, via) and, with `nic_bridge`, eth0 a port of that bridge holding the
        address (the seed's br0); its daemon started."""
        h = self.hosts[name] = LabHost(self, name, address)
        s = dict(settings or {})
        if cluster:
            s.update({"cluster-store": self.store, "cluster-advertise": h.ip})
        h.host = hosts.add(name, lab=self.name, settings=s, start=False)
        ns, port = h.host.netns, f"{name}-eth0"
        ops: list = [CreateVeth(ns=ns, name="eth0", peer=port, peer_ns=self.segment),
                     SetMaster(ns=self.segment, ifname=port, master=SEGMENT),
                     LinkUp(ns=self.segment, ifname=port), LinkUp(ns=ns, ifname="eth0")]
        carrier = "eth0"
        if nic_bridge:
            carrier = nic_bridge
            ops += [EnsureBridge(ns=ns, name=nic_bridge, tag=f"fabric-test:{nic_bridge}"),
                    SetMaster(ns=ns, ifname="eth0", master=nic_bridge),
                    LinkUp(ns=ns, ifname=nic_bridge)]
        ops.append(AddAddress(ns=ns, ifname=carrier, cidr=address))
        ops += [AddRoute(ns=ns, dst=to, gateway=via) for to, via in routes]
        apply(*ops)
        h.host.start_daemon()
        return h

    def outside(self, role: str, address: str) -> str:
        """A plain namespace on the segment, no fabric in it: the world outside."""
        ns = self.spaces.make(role)
        port = f"{role}-eth0"
        apply(CreateVeth(ns=ns, name="eth0", peer=port, peer_ns=self.segment),
              SetMaster(ns=self.segment, ifname=port, master=SEGMENT),
              LinkUp(ns=self.segment, ifname=port), LinkUp(ns=ns, ifname="eth0"),
              AddAddress(ns=ns, ifname="eth0", cidr=address))
        return ns

    def remove(self, name: str) -> None:
        h = self.hosts.pop(name)
        if h.host is not None:
            h.host.remove()
        # its eth0's peer on the segment goes with the host's namespace, but the kernel
        # cleans a namespace up after it is gone: wait, so the name can be used again
        port = f"{name}-eth0"
        wait_until(lambda: subprocess.run(["ip", "-n", self.segment, "link", "show", port],
                                          capture_output=True).returncode != 0, 5.0)

    def close(self) -> None:
        errors = []
        if self.etcd is not None:
            self.etcd.stop()
        for h in self.hosts.values():
            if h.host is not None:
                try:
                    h.host.remove()
                except Exception as e:  # noqa: BLE001 - remove the rest, then report
                    errors.append(f"{h.name}: {e}")
        try:
            self.spaces.remove()
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not errors, errors


def wait_until(check, timeout: float = 5.0, step: float = 0.02):
    """The first truthy result of check() within timeout, and how long it took."""
    start = time.monotonic()
    while True:
        got = check()
        if got or time.monotonic() - start > timeout:
            return got, time.monotonic() - start
        time.sleep(step)


def routing_pair(m: MultiHost, subnet: str, h1_settings: dict | None = None) -> None:
    """h1 and h2 on a `routing` network cnet of `subnet`, a container on each: m.a on
    h1, m.b on h2 (the lab the routing tests share)."""
    h1 = m.add("h1", "192.168.18.11/24", settings=h1_settings)
    h2 = m.add("h2", "192.168.18.12/24")
    for h in (h1, h2):
        h.fab("network", "create", "-d", "routing", "--subnet", subnet, "cnet")
    m.a = h1.run("a", "--network", "cnet")   # type: ignore[attr-defined]
    m.b = h2.run("b", "--network", "cnet")   # type: ignore[attr-defined]
