"""fabric's nft rules as the kernel lists them: text, counters, comment, handle.

Two listings of each table from one libnftables context: JSON for the counters,
comments and handles, and nft's own text (with handles, to pair the two) for people,
so `fabric firewall show` prints each rule exactly as `nft list ruleset` does.
"""

import json
import re

from fabric.firewall import nftrender
from fabric.firewall.backend import KernelRule

_HANDLE = re.compile(r"\s+# handle (\d+)$")
_COUNTS = re.compile(r"counter packets \d+ bytes \d+")


def rules(nft) -> list[KernelRule]:
    """Run inside the namespace, `nft` a libnftables context (JSON output on)."""
    out: list[KernelRule] = []
    for family in (nftrender.BRIDGE, nftrender.INET):
        table = f"{family} {nftrender.TABLE}"
        rc, listed, _ = nft.cmd(f"list table {table}")
        if rc != 0 or not listed:
            continue
        texts = _texts(nft, table)
        for o in json.loads(listed)["nftables"]:
            r = o.get("rule")
            if r is None:
                continue
            counter = next((e["counter"] for e in r["expr"] if "counter" in e), None) or {}
            out.append(KernelRule(table, r["chain"], texts.get(r["handle"], ""),
                                  counter.get("packets", 0), counter.get("bytes", 0),
                                  r.get("comment"), r["handle"]))
    return out


def _texts(nft, table: str) -> dict[int, str]:
    """handle -> the rule as nft prints it, its counter's values taken out (they are
    columns of their own)."""
    nft.set_json_output(False)
    try:
        rc, listed, _ = nft.cmd(f"list table {table}")
    finally:
        nft.set_json_output(True)
    out = {}
    for line in listed.splitlines() if rc == 0 else []:
        m = _HANDLE.search(line)
        if m:
            text = _COUNTS.sub("counter", line[:m.start()].strip())
            if not text.startswith(("chain ", "table ", "set ", "map ")):
                out[int(m.group(1))] = text
    return out
