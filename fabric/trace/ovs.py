"""A host's own Open vSwitch, asked what it does with a packet: `ofproto/trace`
(Open vSwitch's own tracer, the model for this whole feature), `fdb/show` for where a
MAC was learnt, `dpif/show` for the ports with their numbers and tunnels.

Frames OVS switches never meet the kernel's bridge or netfilter hooks (the userspace
datapath reads and writes them through packet sockets, and sends its own tunnels), so
between a container's veth and the host's stack, and across the tunnel, this is all
there is to see. Each host's ovs-vswitchd is reached at its control socket under the
host's root (fabric/ovs), never the machine's own.
"""

import re
import subprocess
from dataclasses import dataclass

from fabric.ovs import daemons

PORT = re.compile(r"^\s{4}(\S+) (\d+|65534)/(\d+): \((\w+)(?:: (.*))?\)$")
BRIDGE = re.compile(r"^\s{2}(\S+):$")
FDB = re.compile(r"^\s*(\d+|LOCAL)\s+\d+\s+([0-9a-f:]{17})\s")
TUNNELS = ("gre", "vxlan", "geneve")
LOCAL = 65534


@dataclass(frozen=True)
class Port:
    bridge: str
    name: str
    ofport: int
    dpport: int
    kind: str               # system, tap (the bridge's own), gre, vxlan...
    options: str = ""       # a tunnel's: "key=12257251, remote_ip=192.168.18.12"

    @property
    def tunnel(self) -> bool:
        return self.kind in TUNNELS

    def option(self, key: str) -> str | None:
        m = re.search(rf"\b{key}=([^,]+)", self.options)
        return m.group(1) if m else None


@dataclass(frozen=True)
class Flow:
    bridge: str
    steps: tuple[str, ...]     # the OpenFlow tables' lines: "0. priority 0", "NORMAL"...
    outputs: tuple[Port, ...]  # where the datapath sends it
    actions: str               # the datapath's actions, as OVS prints them

    def summary(self) -> str:
        """"OVS 0. priority 0; NORMAL (forwarding to learned port)": the tables and
        actions, and OVS's first note on what they did."""
        rules = [s for s in self.steps if not s.startswith("->")]
        notes = [s[2:].strip() for s in self.steps if s.startswith("->")]
        return "OVS " + "; ".join(rules) + (f" ({notes[0]})" if notes else "")


class Ovs:
    def __init__(self, root: str):
        self.inst = daemons.Instance(root)
        self.ports: dict[str, Port] = {}
        if self.inst.running():
            self._read_ports()

    @property
    def running(self) -> bool:
        return bool(self.ports)

    def _appctl(self, *args: str) -> str:
        p = subprocess.run(["ovs-appctl", "-t", self.inst.ctl("ovs-vswitchd"), *args],
                           capture_output=True, text=True, timeout=10, env=self.inst.env(),
                           check=False)
        return p.stdout if p.returncode == 0 else ""

    def _read_ports(self) -> None:
        bridge = ""
        for line in self._appctl("dpif/show").splitlines():
            if m := BRIDGE.match(line):
                bridge = m.group(1)
            elif (m := PORT.match(line)) and bridge:
                self.ports[m.group(1)] = Port(bridge, m.group(1), int(m.group(2)),
                                              int(m.group(3)), m.group(4), m.group(5) or "")

    def port(self, name: str | None) -> Port | None:
        return self.ports.get(name or "")

    def learned(self, bridge: str, mac: str | None) -> Port | None:
        """The port of `bridge` that `mac` was learnt on (OVS's own FDB)."""
        for line in self._appctl("fdb/show", bridge).splitlines():
            m = FDB.match(line)
            if m and m.group(2) == mac:
                num = LOCAL if m.group(1) == "LOCAL" else int(m.group(1))
                return next((p for p in self.ports.values()
                             if p.bridge == bridge and p.ofport == num), None)
        return None

    def trace(self, bridge: str, fields: str) -> Flow:
        out = self._appctl("ofproto/trace", bridge, fields)
        steps, actions = [], ""
        section = None
        for line in out.splitlines():
            if line.startswith("bridge("):
                section = line[len('bridge("'):-2]
            elif line.startswith("Datapath actions:"):
                actions = line.split(":", 1)[1].strip()
            elif not line.strip():
                section = None
            elif section == bridge and not line.startswith("-"):
                steps.append(line.strip())
        return Flow(bridge, tuple(steps), tuple(self._outputs(actions)), actions)

    def _outputs(self, actions: str) -> list[Port]:
        """The ports the datapath sends to: a tunnel's (its encapsulated copy then
        leaves through the underlay bridge, which says nothing more), else plain
        output ports."""
        by_dp = {p.dpport: p for p in self.ports.values()}
        nums = [int(n) for n in re.findall(r"tnl_port\((\d+)\)", actions)] or \
            [int(n) for n in re.findall(r"(?:^|,)(\d+)(?=,|$)", actions)]
        return [by_dp[n] for n in nums if n in by_dp]
