"""`lab graph`: hosts, segments, networks and containers with their addresses, as
Graphviz DOT (rendered to SVG or PNG by Graphviz's `dot`) or Mermaid text for docs.

Addresses come from the running lab when it is up, otherwise from the file (pinned
ones, and each host's slice of a lab-wide network).
"""

import shutil
import subprocess

from fabric.errors import FabricError
from fabric.lab import model
from fabric.lab.live import Live

FORMATS = ("svg", "png", "mermaid", "dot")


def _id(*parts: str) -> str:
    return "_".join(p.replace("-", "_").replace(".", "_") for p in parts)


def _container_label(c: model.Container, now: Live | None) -> list[str]:
    addrs = now.addresses(c.name) if now else {}
    lines = [c.name]
    for n in c.network_names:
        pinned = next((a.ip for a in c.networks if a.network == n and a.ip), None)
        lines.append(f"{n} {addrs.get(n) or pinned or ''}".rstrip())
    return lines


def _network_label(net: model.Network) -> list[str]:
    return [f"{net.name} ({net.driver})", str(net.subnet or "")]


def dot(lab: model.Lab, now: Live | None = None) -> str:
    out = [f'graph "{lab.name}" {{', "  rankdir=TB; node [fontname=Helvetica fontsize=10];"]
    for seg in lab.segments:
        label = "\\n".join(x for x in (f"segment {seg.name}", str(seg.subnet or ""),
                                       seg.impair.text() if seg.impair else "") if x)
        out.append(f'  {_id("seg", seg.name)} [shape=box style="rounded,filled" '
                   f'fillcolor="#dde8f5" label="{label}"];')
    for net in lab.networks:
        label = "\\n".join(x for x in _network_label(net) if x)
        out.append(f'  {_id("net", net.name)} [shape=hexagon style=filled '
                   f'fillcolor="#f5ecd7" label="{label}"];')
    for h in lab.hosts:
        out.append(f"  subgraph cluster_{_id(h.name)} {{")
        settings = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                             for k, v in h.settings)
        out.append(f'    label="host {h.name}{chr(92) + "n" + settings if settings else ""}";'
                   ' style=rounded;')
        hid = _id("host", h.name)
        out.append(f'    {hid} [shape=component label="{h.name}"];')
        if any(model.DEFAULT_NETWORK in c.network_names for c in lab.containers_on(h.name)):
            out.append(f'    {_id("bridge", h.name)} [shape=hexagon label="bridge"];')
        for c in lab.containers_on(h.name):
            label = "\\n".join(_container_label(c, now))
            out.append(f'    {_id("ctr", c.name)} [shape=box3d label="{label}"];')
        out.append("  }")
        for nic in h.nics:
            out.append(f'  {hid} -- {_id("seg", nic.segment)} '
                       f'[label="{nic.carrier} {nic.address or ""}" fontsize=9];')
    for c in lab.containers:
        for n in c.network_names:
            target = _id("bridge", c.host) if n == model.DEFAULT_NETWORK else _id("net", n)
            out.append(f"  {_id('ctr', c.name)} -- {target};")
        for link in c.links:
            out.append(f'  {_id("ctr", c.name)} -- {_id("ctr", link.split(":")[0])} '
                       f'[style=dashed label="link" fontsize=8];')
    out.append("}")
    return "\n".join(out) + "\n"


def mermaid(lab: model.Lab, now: Live | None = None) -> str:
    out = ["flowchart TB"]
    for seg in lab.segments:
        out.append(f'  {_id("seg", seg.name)}[["segment {seg.name}<br/>{seg.subnet or ""}"]]')
    for net in lab.networks:
        out.append(f'  {_id("net", net.name)}{{{{"{"<br/>".join(_network_label(net))}"}}}}')
    for h in lab.hosts:
        out.append(f'  subgraph {_id("h", h.name)}["host {h.name}"]')
        out.append(f'    {_id("host", h.name)}["{h.name}"]')
        if any(model.DEFAULT_NETWORK in c.network_names for c in lab.containers_on(h.name)):
            out.append(f'    {_id("bridge", h.name)}{{{{"bridge"}}}}')
        for c in lab.containers_on(h.name):
            out.append(f'    {_id("ctr", c.name)}["{"<br/>".join(_container_label(c, now))}"]')
        out.append("  end")
        for nic in h.nics:
            out.append(f'  {_id("host", h.name)} ---|"{nic.carrier} {nic.address or ""}"| '
                       f'{_id("seg", nic.segment)}')
    for c in lab.containers:
        for n in c.network_names:
            target = _id("bridge", c.host) if n == model.DEFAULT_NETWORK else _id("net", n)
            out.append(f"  {_id('ctr', c.name)} --- {target}")
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
