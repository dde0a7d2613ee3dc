"""`fabric doctor [--fix] [--json]`: what silently breaks this host's networking, one
line each with the command that fixes it. The checks run in the host's daemon (it sees
the host's namespace); this only prints. Exit 0 when nothing is left to do."""

import json
import sys

import click

from fabric.cli.main import cli


def echo_findings(doc: dict, prefix: str = "") -> int:
    """Print one host's findings; how many are left (not fixed)."""
    from fabric.doctor.findings import line
    left = 0
    for f in doc["Findings"]:
        click.echo(line(f, prefix))
        left += not f.get("fixed")
    return left


@cli.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--fix", is_flag=True,
              help="Repair what fabric owns (its firewall, orphan objects with its tags, "
                   "ip_forward); say what is left to you.")
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON.")
@click.pass_obj
def doctor(obj, fix, as_json):
    """Find what silently breaks container networking on this host: Docker's FORWARD
    DROP, ip_forward off, strict rp_filter on an underlay, routes or addresses over
    fabric's subnets, overlay MTU black holes, fabric's firewall drifted from the store,
    kernel objects with fabric's tags that nothing owns."""
    doc = obj.client.call("POST", "/fabric/doctor/fix") if fix else \
        obj.client.get("/fabric/doctor")
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        left = sum(not f.get("fixed") for f in doc["Findings"])
    else:
        left = echo_findings(doc)
        if not doc["Findings"]:
            click.echo(f"host {doc['Host']}: nothing found")
    sys.exit(1 if left else 0)
