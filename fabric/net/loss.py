"""Random loss on what leaves an interface, with nftables.

This kernel has neither netem nor tc's police action, so a rule `numgen random mod
10000 < N drop` on the interface's netdev egress hook drops N in 10,000 packets
(0.01% steps). The egress hook runs before the queueing discipline, so a dropped packet
never takes a share of a tbf rate set on the same interface. It also runs before GSO
segmentation: a TCP super-packet (up to 64 KiB) is kept or dropped whole, so TCP sees
the loss in bursts of segments (netem drops whole skbs the same way); UDP and ICMP,
which is what loss is measured with, lose exactly the share set.

Everything sits in one table of fabric's own per namespace, `netdev fabric_impair`,
one chain per interface (`loss_IFNAME`), and the rule's comment carries the setting
(`fabric:impair loss=5%`), so reading the kernel back tells what is set and teardown
finds exactly what fabric made. Kernel access goes through libnftables' JSON API
(no quoting of interface names), on a thread that entered the namespace.
"""

import json

from fabric.net import nsexec
from fabric.net.errors import KernelError

FAMILY, TABLE = "netdev", "fabric_impair"
SCALE = 10000
TAG = "fabric:impair"


PREFIX = "loss_"


def chain(ifname: str) -> str:
    return PREFIX + ifname


def threshold(percent: float) -> int:
    return round(percent * SCALE / 100)


def comment(percent: float) -> str:
    return f"{TAG} loss={percent:g}%"


def _run_here(cmd: dict | str) -> dict:
    import nftables  # libnftables binding: loaded only where loss is used

    nft = nftables.Nftables()
    nft.set_json_output(True)
    if isinstance(cmd, dict):
        rc, out, err = nft.json_cmd(cmd)
        if rc != 0:
            raise KernelError(f"nft: {str(err).strip() or 'failed'}")
        return out if isinstance(out, dict) else {}
    rc, text, err = nft.cmd(cmd)
    if rc != 0:
        raise KernelError(f"nft: {err.strip() or 'failed'}")
    return json.loads(text) if text.strip() else {}


def _run(ns: str | None, cmd: dict | str) -> dict:
    # libnftables opens its netlink socket in the namespace of the thread calling it
    return nsexec.run(ns, _run_here, cmd)


def _items(ns: str | None) -> list[dict]:
    return _run(ns, f"list ruleset {FAMILY}").get("nftables", [])


def current(ns: str | None) -> dict[str, float]:
    """{ifname: percent} of every loss rule fabric has in `ns`. The interface comes
    from the chain's name: nft 1.0.6 leaves a netdev chain's device out of its JSON."""
    out = {}
    for item in _items(ns):
        rule = item.get("rule")
        if not rule or rule["table"] != TABLE or not rule.get("comment", "").startswith(TAG):
            continue
        text = rule["comment"].partition("loss=")[2].rstrip("%")
        if rule["chain"].startswith(PREFIX) and text:
            out[rule["chain"][len(PREFIX):]] = float(text)
    return out


def get(ns: str | None, ifname: str) -> float | None:
    return current(ns).get(ifname)


def _chain_obj(ifname: str, hook: bool) -> dict:
    obj: dict[str, object] = {"family": FAMILY, "table": TABLE, "name": chain(ifname)}
    if hook:
        obj.update(type="filter", hook="egress", dev=ifname, prio=0, policy="accept")
    return obj


def set_loss(ns: str | None, ifname: str, percent: float) -> None:
    """Replace the loss on ifname's egress, in one transaction."""
    rule = {"family": FAMILY, "table": TABLE, "chain": chain(ifname),
            "comment": comment(percent),
            "expr": [
                {"match": {"op": "<",
                           "left": {"numgen": {"mode": "random", "mod": SCALE, "offset": 0}},
                           "right": threshold(percent)}},
                {"counter": None},
                {"drop": None},
            ]}
    _run(ns, {"nftables": [
        {"add": {"table": {"family": FAMILY, "name": TABLE}}},
        {"add": {"chain": _chain_obj(ifname, hook=True)}},
        {"flush": {"chain": _chain_obj(ifname, hook=False)}},
        {"add": {"rule": rule}},
    ]})


def clear(ns: str | None, ifname: str) -> bool:
    """Remove the loss on ifname (and the table once it holds nothing); False when
    there was none."""
    items = _items(ns)
    names = {c["chain"]["name"] for c in items if "chain" in c and c["chain"]["table"] == TABLE}
    if chain(ifname) not in names:
        return False
    cmds: list[dict] = [{"delete": {"chain": _chain_obj(ifname, hook=False)}}]
    if names == {chain(ifname)}:
        cmds.append({"delete": {"table": {"family": FAMILY, "name": TABLE}}})
    _run(ns, {"nftables": [{"flush": {"chain": _chain_obj(ifname, hook=False)}}, *cmds]})
    return True


def script(ifname: str, percent: float) -> str:
    """The same change in nft's own syntax, for --explain."""
    c = chain(ifname)
    return (f"table {FAMILY} {TABLE} {{\n"
            f"\tchain {c} {{\n"
            f"\t\ttype filter hook egress device \"{ifname}\" priority 0; policy accept;\n"
            f"\t}}\n}}\n"
            f"flush chain {FAMILY} {TABLE} {c}\n"
            f"add rule {FAMILY} {TABLE} {c} numgen random mod {SCALE} < "
            f"{threshold(percent)} counter drop comment \"{comment(percent)}\"")
