"""What the lab asks of each host's daemon, as Engine API bodies: networks, containers
and firewall rules, shaped exactly as `fabric network create`, `fabric run` and
`fabric firewall add` send them. Pure: deploy.py sends them.
"""

from fabric.lab import healthchecks, model, slices
from fabric.ports import parse_expose, to_bindings

LABEL = "fabric.lab"                    # on every network and container a lab makes
CONTAINER_LABEL = "fabric.lab.container"


def network(lab: str, net: model.Network, host: str) -> dict:
    """The create body for `net` on `host`. A slice pinned for this host goes as option
    `slice` to the drivers that slice a lab-wide subnet (the cluster store hands the
    others out, in file order); a plain bridge network is local to each host, and a
    slice pinned for it is the range that host hands out (Docker's --ip-range)."""
    options = dict(net.options)
    ipam: dict = {}
    if net.subnet is not None:
        ipam["Subnet"] = str(net.subnet)
    if net.gateway is not None:
        ipam["Gateway"] = str(net.gateway)
    if net.ip_range is not None:
        ipam["IPRange"] = str(net.ip_range)
    pinned = dict(net.slices).get(host) if host in net.pinned else None
    if pinned is not None:
        if slices.sliced(net):
            options["slice"] = str(pinned)
        else:
            ipam["IPRange"] = str(pinned)
    return {"Name": net.name, "Driver": net.driver, "CheckDuplicate": True,
            "IPAM": {"Driver": "default", "Config": [ipam] if ipam else [], "Options": {}},
            "Options": options, "Labels": {LABEL: lab}}


def container(lab: str, c: model.Container) -> dict:
    """The create body `fabric run -d` would send for this container."""
    exposed, bindings = to_bindings(list(c.ports))
    for spec in c.expose:
        for key in parse_expose(spec):
            exposed[key] = {}
    nets = c.networks
    body: dict = {
        "Image": c.image,
        "Cmd": list(c.command) if c.command is not None else None,
        "Entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "Env": list(c.env),
        "Hostname": c.hostname or "",
        "ExposedPorts": exposed or None,
        "Labels": {LABEL: lab, CONTAINER_LABEL: c.name},
        "HostConfig": {
            "NetworkMode": nets[0].network if nets else "default",
            "PortBindings": bindings,
            "Links": list(c.links) or None,
            "CapAdd": list(c.cap_add) or None,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        },
    }
    if c.healthcheck is not None:
        body["Healthcheck"] = healthchecks.body(c.healthcheck)
    if any(a.network != model.DEFAULT_NETWORK for a in nets):
        body["NetworkingConfig"] = {"EndpointsConfig": {a.network: {
            "IPAMConfig": {"IPv4Address": str(a.ip)} if a.ip else None,
            "Aliases": list(a.aliases) or None,
            "Links": list(c.links) or None,
        } for a in nets}}
    return body


def rule(r: model.Rule, src: str | None, dst: str | None, lab: str) -> dict:
    """A user firewall rule with its ends resolved to addresses."""
    return {"src": src, "dst": dst, "proto": r.proto, "dport": r.dport, "action": r.action,
            "comment": r.comment or f"lab {lab}"}
