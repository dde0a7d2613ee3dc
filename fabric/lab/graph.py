"""`lab graph`: hosts, segments, networks and containers with their addresses, as
Graphviz DOT (rendered to SVG or PNG by Graphviz's `dot`) or Mermaid text for docs.

Addresses come from the running lab when it is up, otherwise from the file (pinned
ones, and each host's slice of a lab-wide network).
"""

import shutil
import subprocess
from dataclasses import dataclass, field

from fabric.errors import FabricError
from fabric.lab import model
from fabric.lab.live import Live

FORMATS = ("svg", "png", "mermaid", "dot")


def _id(*parts: str) -> str:
    return "_".join(p.replace("-", "_").replace(".", "_") for p in parts)


@dataclass
class Node:
    id: str
    kind: str                   # segment, network, host, bridge, container
    lines: list[str]


@dataclass
class Edge:
    a: str
    b: str
    label: str = ""
    dashed: bool = False


@dataclass
class Picture:
    """The lab as nodes (each host's in a group of its own) and edges, for either
    output format."""
    free: list[Node] = field(default_factory=list)
    groups: list[tuple[str, list[Node]]] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def picture(lab: model.Lab, now: Live | None = None) -> Picture:
    pic = Picture()
    for seg in lab.segments:
        pic.free.append(Node(_id("seg", seg.name), "segment", [
            x for x in (f"segment {seg.name}", str(seg.subnet or ""),
                        seg.impair.text() if seg.impair else "") if x]))
    for net in lab.networks:
        pic.free.append(Node(_id("net", net.name), "network",
                             [f"{net.name} ({net.driver})", str(net.subnet or "")]))
    for h in lab.hosts:
        settings = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                             for k, v in h.settings)
        nodes = [Node(_id("host", h.name), "host",
                      [h.name] + ([h.remote.url] if h.remote else []))]
        if any(model.DEFAULT_NETWORK in c.network_names for c in lab.containers_on(h.name)):
            nodes.append(Node(_id("bridge", h.name), "bridge", ["bridge"]))
        nodes += [Node(_id("ctr", c.name), "container", _container_label(c, now))
                  for c in lab.containers_on(h.name)]
        pic.groups.append((" ".join(x for x in (f"host {h.name}", settings) if x), nodes))
        pic.edges += [Edge(_id("host", h.name), _id("seg", nic.segment),
                           f"{nic.carrier} {nic.address or ''}".strip()) for nic in h.nics]
    for c in lab.containers:
        pic.edges += [Edge(_id("ctr", c.name), _id("bridge", c.host)
                           if n == model.DEFAULT_NETWORK else _id("net", n))
                      for n in c.network_names]
        pic.edges += [Edge(_id("ctr", c.name), _id("ctr", link.split(":")[0]), "link", True)
                      for link in c.links]
    return pic


def _container_label(c: model.Container, now: Live | None) -> list[str]:
    addrs = now.addresses(c.name) if now else {}
    lines = [c.name]
    for n in c.network_names:
        pinned = next((a.ip for a in c.networks if a.network == n and a.ip), None)
        lines.append(f"{n} {addrs.get(n) or pinned or ''}".rstrip())
    return lines


DOT_SHAPES = {"segment": 'shape=box style="rounded,filled" fillcolor="#dde8f5"',
              "network": 'shape=hexagon style=filled fillcolor="#f5ecd7"',
              "host": "shape=component", "bridge": "shape=hexagon", "container": "shape=box3d"}
MERMAID_SHAPES = {"segment": ('[["', '"]]'), "network": ('{{"', '"}}'), "host": ('["', '"]'),
                  "bridge": ('{{"', '"}}'), "container": ('["', '"]')}


def dot(lab: model.Lab, now: Live | None = None) -> str:
    pic = picture(lab, now)

    def node(n: Node, indent: str) -> str:
        label = "\\n".join(n.lines)      # DOT's own line break, written out
        return f'{indent}{n.id} [{DOT_SHAPES[n.kind]} label="{label}"];'

    out = [f'graph "{lab.name}" {{', "  rankdir=TB; node [fontname=Helvetica fontsize=10];"]
    out += [node(n, "  ") for n in pic.free]
    for i, (label, nodes) in enumerate(pic.groups):
        out += [f'  subgraph cluster_{i} {{', f'    label="{label}"; style=rounded;']
        out += [node(n, "    ") for n in nodes] + ["  }"]
    for e in pic.edges:
        attrs = " ".join(x for x in (f'label="{e.label}" fontsize=9' if e.label else "",
                                     "style=dashed" if e.dashed else "") if x)
        out.append(f"  {e.a} -- {e.b}" + (f" [{attrs}]" if attrs else "") + ";")
    return "\n".join(out + ["}"]) + "\n"


def mermaid(lab: model.Lab, now: Live | None = None) -> str:
    pic = picture(lab, now)

    def node(n: Node, indent: str) -> str:
        left, right = MERMAID_SHAPES[n.kind]
        return f"{indent}{n.id}{left}{'<br/>'.join(n.lines)}{right}"

    out = ["flowchart TB"] + [node(n, "  ") for n in pic.free]
    for i, (label, nodes) in enumerate(pic.groups):
        out += [f'  subgraph g{i}["{label}"]'] + [node(n, "    ") for n in nodes] + ["  end"]
    for e in pic.edges:
        line = "-.-" if e.dashed else "---"
        out.append(f"  {e.a} {line}" + (f'|"{e.label}"|' if e.label else "") + f" {e.b}")
    return "\n".join(out) + "\n"


def render(lab: model.Lab, fmt: str, now: Live | None = None) -> bytes:
    if fmt == "mermaid":
        return mermaid(lab, now).encode()
    text = dot(lab, now)
    if fmt == "dot":
        return text.encode()
    exe = shutil.which("dot")
    if exe is None:
        raise FabricError(f"rendering {fmt} needs Graphviz's `dot` (Debian: apt-get install "
                          "graphviz); --format mermaid or dot need nothing")
    p = subprocess.run([exe, f"-T{fmt}"], input=text.encode(), capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise FabricError(f"dot failed: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout
