"""`fabric mesh ...`: weave's launch, connect, forget and status over mesh networks.

`fabric run --ip 10.32.1.2/24` (no --network) picks the mesh network whose subnet
holds the address, as `weave run` does (fabric/cli/run.py asks the daemon here).
"""

import json
import time

import click

from fabric.cli.main import cli
from fabric.cli.network import _pairs as pairs


@cli.group(context_settings={"help_option_names": ["--help"]})
def mesh():
    """A VXLAN mesh between hosts, like weave (the mesh driver)."""


@mesh.command("launch")
@click.argument("peers", nargs=-1)
@click.option("--network", "name", default="mesh", show_default=True,
              help="The mesh network this host launches or joins.")
@click.option("--subnet", default=None,
              help="Its subnet, when this host is the first (default 10.32.0.0/12).")
@click.option("-o", "--opt", multiple=True, help="Driver option KEY=VALUE (vni, icc, mtu...).")
@click.option("--explain", is_flag=True, help="Print the kernel commands fabric runs.")
@click.pass_obj
def mesh_launch(obj, peers, name, subnet, opt, explain):
    """Join this host to the mesh (making it if no host has), after each PEER (a
    host's name or underlay address) has answered."""
    body = {"Peers": list(peers), "Network": name, "Subnet": subnet,
            "Options": pairs(opt, "option")}
    doc = obj.client.call("POST", "/fabric/mesh/launch", {"explain": explain or None}, body)
    for line in doc.get("Explain") or []:
        click.echo(line, err=True)
    click.echo(doc["Id"])


def _intent(verb: str, doc: str) -> None:
    """`mesh connect|forget PEER`: what the members want of PEER, recorded in the store."""
    @mesh.command(verb, help=doc)
    @click.argument("peer")
    @click.option("--network", default=None, help="Only this mesh network (default: all).")
    @click.pass_obj
    def command(obj, peer, network):
        obj.client.call("POST", f"/fabric/mesh/{verb}", None,
                        {"Peer": peer, "Network": network})


_intent("connect", "Have the mesh reach PEER (again); PEER must answer.")
_intent("forget", "Have every member of the mesh drop PEER, and PEER drop them.")


@mesh.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def mesh_status(obj, as_json):
    """Peers and connections, the tunnel, addresses, names, and what is programmed."""
    docs = obj.client.get("/fabric/mesh/status")
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    if not docs:
        click.echo("no mesh network on this host (fabric mesh launch)")
    for i, d in enumerate(docs):
        if i:
            click.echo("")
        for line in render(d):
            click.echo(line)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def render(d: dict) -> list[str]:
    """A network's status as weave prints its own: sections, two spaces of indent."""
    u, t = d.get("Underlay") or {}, d["Tunnel"]
    out = [f"mesh network {d['Network']}  {d['Subnet']}  VNI {d['VNI']}  id {d['Id'][:12]}",
           f"  this host  {d['Host']}  underlay {u.get('address')} ({u.get('ifname')}, MTU "
           f"{u.get('mtu')})  vtep {d['VtepMac']}"]
    if t.get("Present"):
        flags = " ".join(f for f, on in (("learning", t["Learning"]), ("nolearning",
                                          not t["Learning"]), ("proxy", t["Proxy"])) if on)
        out.append(f"  tunnel     {t['Name']}  vxlan id {t['VNI']} dstport {t['Port']} local "
                   f"{t['Local']} {flags}  MTU {t['MTU']}  bridge {d['Bridge']}")
    else:
        out.append(f"  tunnel     {t['Name']}  MISSING")
    out.append(f"  peers ({len(d['Peers'])})")
    for p in d["Peers"]:
        extra = f"  by {p['By']} since {_when(p['Since'])}" if p["State"] == "forgotten" else ""
        out.append(f"    {p['Host']}  {p['Underlay'] or '-'}  {p['State']}  "
                   f"{p['Endpoints']} endpoint(s){extra}")
    out.append(f"  addresses  one pool {d['Subnet']}, gateway {d['Gateway']} on each host's "
               "bridge")
    for r in d["Ranges"]:
        out.append(f"    {r['Host']}  {r['Count']}  {' '.join(r['Addresses'])}")
    out.append(f"  names ({len(d['Names'])})")
    for n in d["Names"]:
        names = " ".join([n["Name"] or "-", *n["Aliases"]])
        out.append(f"    {names}  {n['Address'].split('/')[0]}  {n['Mac']}  {n['Host']}")
    out.append(f"  programmed on this host ({len(d['Programmed'])})")
    for e in d["Programmed"]:
        state = "ok" if e["Present"] else "MISSING"
        src = f"  from {e['Key']} rev {e['Revision']}  since {_when(e['Since'])}" \
            if e["Key"] else ""
        who = f"{e['Endpoint']} on {e['Host']}" if e["Host"] else e["Endpoint"]
        out.append(f"    {e['Kind']:5}  {e['Entry']}  {state}  for {who}{src}")
    for s in d["Stray"]:
        out.append(f"    stray  {s}  (no record explains it)")
    return out
