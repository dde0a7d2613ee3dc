"""`fabric firewall add|ls|rm`: users' rules that survive every re-render, evaluated
before fabric's own (the counterpart of `iptables -I DOCKER-USER ...`); `fabric
firewall show`: the rules of each network and link in words, with their counters."""

import click

from fabric.cli.main import cli
from fabric.cli.table import print_rows


@cli.group(context_settings={"help_option_names": ["--help"]})
def firewall():
    """Manage user firewall rules (evaluated before fabric's own)."""


def _explained(doc: dict, dry_run: bool) -> None:
    for line in doc.get("Explain") or []:
        click.echo(line, err=not dry_run)


@firewall.command("add", context_settings={"help_option_names": ["--help"]})
@click.option("-s", "--source", "src", default=None, help="Source address or CIDR.")
@click.option("-d", "--destination", "dst", default=None, help="Destination address or CIDR.")
@click.option("-p", "--protocol", "proto", default=None, help="tcp, udp or icmp.")
@click.option("--dport", default=None, help="Destination port (with -p tcp|udp).")
@click.option("-j", "--jump", "action", required=True, help="ACCEPT, DROP or REJECT.")
@click.option("-I", "--insert", "position", type=int, default=None,
              help="Insert at this position (1 = first); default: append.")
@click.option("--comment", default="", help="A note kept with the rule.")
@click.option("--explain", is_flag=True, help="Print the firewall commands fabric runs.")
@click.option("--dry-run", is_flag=True, help="Print them, change nothing.")
@click.pass_obj
def firewall_add(obj, src, dst, proto, dport, action, position, comment, explain, dry_run):
    """Add a rule, e.g.
    `fabric firewall add -s 10.88.0.2 -d 10.88.0.3 -p tcp --dport 80 -j DROP`."""
    body = {"src": src, "dst": dst, "proto": proto, "dport": dport, "action": action,
            "position": position, "comment": comment}
    doc = obj.client.call("POST", "/fabric/firewall/rules",
                          {"explain": explain or None, "dry_run": dry_run or None}, body)
    _explained(doc, dry_run)
    if not dry_run:
        click.echo(doc["id"])


@firewall.command("ls", context_settings={"help_option_names": ["--help"]})
@click.option("-q", "--quiet", is_flag=True, help="Only show rule ids.")
@click.pass_obj
def firewall_ls(obj, quiet):
    """List user rules in the order they are evaluated."""
    rules = obj.client.get("/fabric/firewall/rules")
    if quiet:
        for r in rules:
            click.echo(r["id"])
        return
    rows = [{"NUM": str(r["position"]), "ID": r["id"], "ACTION": r["action"].upper(),
             "SOURCE": r.get("src") or "anywhere", "DESTINATION": r.get("dst") or "anywhere",
             "PROTO": r.get("proto") or "all",
             "DPORT": str(r["dport"]) if r.get("dport") else "", "COMMENT": r.get("comment", "")}
            for r in rules]
    print_rows(rows, [(k, k) for k in ("NUM", "ID", "ACTION", "SOURCE", "DESTINATION", "PROTO",
                                       "DPORT", "COMMENT")])


@firewall.command("rm", context_settings={"help_option_names": ["--help"]})
@click.option("--explain", is_flag=True, help="Print the firewall commands fabric runs.")
@click.option("--dry-run", is_flag=True, help="Print them, change nothing.")
@click.argument("rules", nargs=-1, required=True)
@click.pass_obj
def firewall_rm(obj, rules, explain, dry_run):
    """Remove rules by id (or by position number)."""
    from fabric.cli.each import each

    def one(ref):
        doc = obj.client.call("DELETE", f"/fabric/firewall/rules/{ref}",
                              {"explain": explain or None, "dry_run": dry_run or None})
        _explained(doc or {}, dry_run)
        if not dry_run:
            click.echo(ref)
    each(rules, one)


@firewall.command("show", context_settings={"help_option_names": ["--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON.")
@click.pass_obj
def firewall_show(obj, as_json):
    """The rules that govern each network, link, published port and user rule, in words,
    beside the nft (or iptables) text of exactly those rules and their packet and byte
    counters: `iptables -L -n -v`'s twin, on either backend."""
    doc = obj.client.get("/fabric/firewall/show")
    if as_json:
        import json
        click.echo(json.dumps(doc, indent=2))
        return
    from fabric.cli import firewall_show
    firewall_show.echo(doc)
