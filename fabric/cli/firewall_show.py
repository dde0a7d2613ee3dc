"""`fabric firewall show` as text: each statement of intent, then the kernel's rules
that carry it out with their packet and byte counters (as `iptables -L -n -v` puts
them first), and the set elements that make a shared nft rule act for this network."""

import click

INDENT = "    "


def count(n: int) -> str:
    """As `iptables -L -v` prints counters: exact up to 99999, then K, M, G (1000s)."""
    for unit in ("", "K", "M", "G"):
        if n <= 99999:
            return f"{n}{unit}"
        n //= 1000
    return f"{n}T"


def _where(r: dict) -> str:
    # nft rules print as `nft list` does; iptables rules as iptables-save, with their table
    if r["table"] in ("filter", "nat", "raw", "mangle"):
        return f"-t {r['table']} {r['text']}"
    return f"{r['table']} {r['chain']}: {r['text']}"


def _fact(f: dict) -> None:
    click.echo(f"  {f['words']}")
    for r in f["rules"]:
        shared = "   (every network)" if r.get("shared") and r["text"] else ""
        click.echo(f"{INDENT}{count(r['packets']):>8} {count(r['bytes']):>6}  {_where(r)}{shared}")
    for e in f["elements"]:
        click.echo(f"{INDENT}{'':>8} {'':>6}  {e}")


def echo(doc: dict) -> None:
    click.echo(f"fabric's firewall ({doc['backend']})" +
               ("" if doc["enabled"] else ": off (the iptables setting is false)"))
    for line in doc["others"]:
        click.echo(f"  other firewalls: {line}")
    for line in doc["drift"]:
        click.echo(f"  drifted from the store: {line} (fabric doctor --fix rebuilds it)")
    click.echo(f"{INDENT}{'pkts':>8} {'bytes':>6}  rule")
    click.echo("\nforwarded traffic")
    for f in doc["forward"]:
        _fact(f)
    for n in doc["networks"]:
        where = ", ".join(n["interfaces"] + n["subnets"])
        click.echo(f"\nnetwork {n['name']} ({where})")
        for f in n["facts"]:
            _fact(f)
    if doc["user_rules"]:
        click.echo("\nuser rules (fabric firewall ls)")
        for f in doc["user_rules"]:
            _fact(f)
