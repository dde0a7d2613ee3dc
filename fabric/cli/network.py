"""`fabric network ...`: Docker's network commands, plus --explain and --dry-run."""

import json

import click

from fabric.cli.main import cli
from fabric.cli.table import print_rows, render_format


def _pairs(items, what: str) -> dict:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise click.ClickException(f"invalid {what} {item!r}: use KEY=VALUE")
        out[k] = v
    return out


def _explain(doc, explain: bool, dry_run: bool) -> bool:
    """Print the kernel commands; True when nothing was applied (dry run)."""
    lines = doc.get("Explain") or [] if isinstance(doc, dict) else []
    for line in lines:
        click.echo(line, err=not dry_run)
    return dry_run


def _modes(f):
    f = click.option("--dry-run", is_flag=True,
                     help="Print the kernel commands, change nothing.")(f)
    return click.option("--explain", is_flag=True,
                        help="Print the kernel commands fabric runs.")(f)


@cli.group(context_settings={"help_option_names": ["--help"]})
def network():
    """Manage networks."""


@network.command("create")
@click.option("-d", "--driver", default="bridge", help="Driver (default bridge).")
@click.option("--subnet", multiple=True, help="Subnet in CIDR form, e.g. 10.1.0.0/24.")
@click.option("--gateway", multiple=True, help="Gateway address in a subnet.")
@click.option("--ip-range", multiple=True, help="Allocate container addresses from here.")
@click.option("--internal", is_flag=True, help="No traffic in or out of the network.")
@click.option("-o", "--opt", multiple=True, help="Driver option KEY=VALUE.")
@click.option("--label", multiple=True, help="Label KEY=VALUE.")
@_modes
@click.argument("name")
@click.pass_obj
def network_create(obj, name, driver, subnet, gateway, ip_range, internal, opt, label,
                   explain, dry_run):
    """Create a network."""
    ipam = {"Driver": "default", "Config": _ipam_config(subnet, gateway, ip_range)}
    body = {"Name": name, "Driver": driver, "Internal": internal, "IPAM": ipam,
            "Options": _pairs(opt, "option"), "Labels": _pairs(label, "label"),
            "CheckDuplicate": True}
    doc = obj.client.post("/networks/create", body, explain=explain or None,
                          dry_run=dry_run or None)
    if not _explain(doc, explain, dry_run):
        click.echo(doc["Id"])


def _ipam_config(subnets, gateways, ranges) -> list[dict]:
    """Docker's pairing: each gateway and ip range goes with the subnet holding it."""
    if len(subnets) <= 1:
        one = {k: v[0] for k, v in (("Subnet", subnets), ("Gateway", gateways),
                                    ("IPRange", ranges)) if v}
        if len(gateways) > 1 or len(ranges) > 1:
            raise click.ClickException("every ip-range or gateway must have a "
                                       "corresponding subnet")
        return [one] if one else []
    import ipaddress

    def net(text: str):
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise click.ClickException(f"invalid address {text!r}") from None
    configs = {s: {"Subnet": s} for s in subnets}
    for key, values in (("IPRange", ranges), ("Gateway", gateways)):
        for v in values:
            holder = next((s for s in subnets if net(v).subnet_of(net(s))), None)
            if holder is None:
                what = "range" if key == "IPRange" else "gateway"
                raise click.ClickException(f"no matching subnet for {what} {v}")
            if key in configs[holder]:
                raise click.ClickException(f"cannot configure multiple {key.lower()}s "
                                           f"({v}, {configs[holder][key]}) for the same "
                                           f"subnet ({holder})")
            configs[holder][key] = v
    return list(configs.values())


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-f", "--filter", "filters", multiple=True)
@click.option("--format", "fmt", default=None)
@click.option("--no-trunc", is_flag=True)
@click.pass_obj
def network_ls(obj, quiet, filters, fmt, no_trunc):
    """List networks."""
    flt: dict[str, list[str]] = {}
    for f in filters:
        k, _, v = f.partition("=")
        flt.setdefault(k, []).append(v)
    nets = obj.client.get("/networks", filters=json.dumps(flt) if flt else None)
    nets.sort(key=lambda n: n["Name"])
    for n in nets:
        n["ID"] = n["Id"] if no_trunc else n["Id"][:12]
    if quiet:
        for n in nets:
            click.echo(n["ID"])
        return
    print_rows(nets, [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"),
                      ("SCOPE", "Scope")], fmt)


@network.command("inspect")
@click.option("-f", "--format", "fmt", default=None)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def network_inspect(obj, names, fmt):
    """Display detailed information on networks."""
    docs = [obj.client.get(f"/networks/{n}") for n in names]
    if fmt:
        for d in docs:
            click.echo(render_format(fmt, d))
    else:
        click.echo(json.dumps(docs, indent=4))


@network.command("rm")
@_modes
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def network_rm(obj, names, explain, dry_run):
    """Remove networks."""
    from fabric.cli.each import each

    def rm(n):
        r = obj.client.request("DELETE", f"/networks/{n}",
                               {"explain": explain or None, "dry_run": dry_run or None})
        r.raise_for_status()
        body = r.read()
        doc = json.loads(body) if body else None
        if not _explain(doc, explain, dry_run):
            click.echo(n)
    each(names, rm)


network.add_command(network_rm, "remove")


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def network_prune(obj, force):
    """Remove all unused networks."""
    if not force:
        click.confirm("WARNING! This will remove all custom networks not used by at least "
                      "one container.\nAre you sure you want to continue?", abort=True)
    doc = obj.client.post("/networks/prune")
    deleted = doc.get("NetworksDeleted") or []
    if deleted:
        click.echo("Deleted Networks:")
        for n in deleted:
            click.echo(n)


@network.command("connect")
@click.option("--ip", default=None, help="IPv4 address on the network.")
@click.option("--alias", multiple=True, help="Network-scoped alias.")
@click.option("--link", multiple=True, help="Link to another container (an alias here).")
@_modes
@click.argument("net")
@click.argument("container")
@click.pass_obj
def network_connect(obj, net, container, ip, alias, link, explain, dry_run):
    """Connect a container to a network."""
    cfg = {"IPAMConfig": {"IPv4Address": ip} if ip else None,
           "Aliases": list(alias) or None, "Links": list(link) or None}
    doc = obj.client.post(f"/networks/{net}/connect", {"Container": container,
                                                       "EndpointConfig": cfg},
                          explain=explain or None, dry_run=dry_run or None)
    _explain(doc, explain, dry_run)


@network.command("disconnect")
@click.option("-f", "--force", is_flag=True)
@_modes
@click.argument("net")
@click.argument("container")
@click.pass_obj
def network_disconnect(obj, net, container, force, explain, dry_run):
    """Disconnect a container from a network."""
    doc = obj.client.post(f"/networks/{net}/disconnect", {"Container": container,
                                                          "Force": force},
                          explain=explain or None, dry_run=dry_run or None)
    _explain(doc, explain, dry_run)
