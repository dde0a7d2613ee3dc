"""`lab up --dry-run`: the plan, as the commands a person would type to build the same
lab by hand (`ip`, `fabric host add`, `fabric -H ... run`), in the order `lab up` runs."""

import json
import shlex

from fabric.lab import clusterstore, model, naming, underlay
from fabric.lab.requests import LABEL


def q(*words: object) -> str:
    return " ".join(shlex.quote(str(w)) for w in words)


def commands(lab: model.Lab) -> list[str]:
    out = [f"# lab {lab.name} ({lab.file}): {len(lab.segments)} segment(s), "
           f"{len(lab.hosts)} host(s), {len(lab.networks)} network(s), "
           f"{len(lab.containers)} container(s)"]
    for seg in filter(lab.made_here, lab.segments):
        out += [f"# segment {seg.name}", q("ip", "netns", "add",
                                           naming.segment_netns(lab.name, seg.name))]
        out += underlay.segment(lab.name, seg).describe()
    out += clusterstore.explain(lab)
    for h in lab.hosts:
        ref = naming.host_ref(lab.name, h.name)
        if h.remote is not None:
            out += [f"# host {h.name}: on another machine, {h.remote.url} (TLS files in "
                    f"{h.remote.cert_path}); its NICs, routes and settings are checked "
                    "there, never made", f"# registered as {ref}"]
            continue
        settings = [a for k, v in h.settings for a in ("--setting", f"{k}={v}")]
        out += [f"# host {h.name}: namespace {naming.host_netns(lab.name, h.name)}",
                q("fabric", "host", "add", "--no-start", *settings, ref)]
        out += underlay.host(lab.name, h).describe()
        if h.api:
            out.append(f"# and in {ref}'s settings.json: " + json.dumps(dict(h.api)))
        out.append(q("fabric", "-H", ref, "info") + "   # starts its daemon")
    for seg in lab.segments:
        if seg.impair:
            out += underlay.segment_impairment(lab, seg, seg.impair).describe()
    for net in lab.networks:
        out.append(f"# network {net.name}")
        for member in net.hosts:
            out.append(_network_create(lab, net, member))
    if lab.containers:
        out.append("# containers")
    for c in lab.containers:
        out.append(_run(lab, c))
    for h in lab.hosts:
        for r in h.firewall:
            out.append(_rule(lab, h, r))
    return out


def _network_create(lab: model.Lab, net: model.Network, host: str) -> str:
    from fabric.lab import requests
    body = requests.network(lab.name, net, host)
    args = ["fabric", "-H", naming.host_ref(lab.name, host), "network", "create",
            "-d", net.driver]
    for ipam in body["IPAM"]["Config"]:
        for key, flag in (("Subnet", "--subnet"), ("Gateway", "--gateway"),
                          ("IPRange", "--ip-range")):
            if key in ipam:
                args += [flag, ipam[key]]
    for k, v in body["Options"].items():
        args += ["-o", f"{k}={v}"]
    args += ["--label", f"{LABEL}={lab.name}", net.name]
    return q(*args)


def _run(lab: model.Lab, c: model.Container) -> str:
    args = ["fabric", "-H", naming.host_ref(lab.name, c.host), "run", "-d", "--name", c.name]
    if c.networks:
        first = c.networks[0]
        args += ["--network", first.network]
        if first.ip:
            args += ["--ip", str(first.ip)]
        for alias in first.aliases:
            args += ["--network-alias", alias]
    for link in c.links:
        args += ["--link", link]
    for e in c.env:
        args += ["-e", e]
    for p in c.ports:
        args += ["-p", p]
    for p in c.expose:
        args += ["--expose", p]
    if c.hostname:
        args += ["-h", c.hostname]
    for cap in c.cap_add:
        args += ["--cap-add", cap]
    if c.entrypoint is not None:
        args += ["--entrypoint", " ".join(c.entrypoint)]
    args += ["--label", f"{LABEL}={lab.name}", c.image, *(c.command or ())]
    line = q(*args)
    for a in c.networks[1:]:
        extra = ["fabric", "-H", naming.host_ref(lab.name, c.host), "network", "connect"]
        if a.ip:
            extra += ["--ip", str(a.ip)]
        for alias in a.aliases:
            extra += ["--alias", alias]
        line += "\n" + q(*extra, a.network, c.name) + "   # done at create"
    return line


def _rule(lab: model.Lab, h: model.Host, r: model.Rule) -> str:
    args = ["fabric", "-H", naming.host_ref(lab.name, h.name), "firewall", "add"]
    if r.src:
        args += ["-s", r.src]
    if r.dst:
        args += ["-d", r.dst]
    if r.proto:
        args += ["-p", r.proto]
    if r.dport:
        args += ["--dport", str(r.dport)]
    args += ["-j", r.action.upper()]
    return q(*args) + ("   # names resolved to addresses when the lab is up"
                       if any(x and "/" not in x and not x[0].isdigit()
                              for x in (r.src, r.dst)) else "")
