"""Living next to Docker, ufw and firewalld.

Netfilter runs every base chain registered at a hook, and a drop in any of them is
final: fabric's own `accept` cannot overrule Docker's `FORWARD DROP` policy (table
`ip filter`, written by iptables-nft), and with br_netfilter on, even frames bridged
between two fabric containers go through that chain. Tried and rejected: hook
priorities (every chain still runs), bridge-family tricks (br_netfilter hands every
IPv4 frame to iptables when net.bridge.bridge-nf-call-iptables=1, a global Docker
relies on), flowtables (the first packet still traverses FORWARD), `fwd` on netdev
ingress (bypasses NAT). So coexisting needs the other firewall's consent, given
through the place it keeps for that:

- Docker: the DOCKER-USER chain, which Docker creates, jumps to first from FORWARD,
  documents for exactly this, and never flushes. Fabric keeps one rule there, added
  with iptables itself (a native nft rule in an iptables-nft table would break
  Docker's own iptables calls): accept packets carrying fabric's accept mark, which
  fabric's forward chain sets on what its own policy accepted. That rule never changes
  with networks, links or ports, is found by its comment, and goes on `clear()`.
- ufw, firewalld, a hand-written `policy drop`: reported as warnings by `current()`;
  their own tools must allow fabric's bridges (ufw route allow, a trusted zone).

Everything here runs inside the target namespace (nsexec).
"""

import json
import shutil
import subprocess

from fabric.firewall.nftrender import ACCEPT_MARK

COMMENT = "fabric: accept what fabric's firewall accepted"
DOCKER_USER = "DOCKER-USER"


def rule_spec() -> list[str]:
    return ["-m", "mark", "--mark", f"{ACCEPT_MARK:#x}/{ACCEPT_MARK:#x}",
            "-m", "comment", "--comment", COMMENT, "-j", "ACCEPT"]


def command(verb: str) -> list[str]:
    return ["iptables", "-w", verb, DOCKER_USER] + rule_spec()


def _chain(nft, family: str, table: str, chain: str) -> list[dict] | None:
    """The JSON listing of a chain, None when it does not exist."""
    rc, out, _ = nft.cmd(f"list chain {family} {table} {chain}")
    if rc != 0:
        return None
    return json.loads(out)["nftables"]


def docker_user_present(nft) -> bool:
    return _chain(nft, "ip", "filter", DOCKER_USER) is not None


def _iptables(verb: str) -> bool:
    if shutil.which("iptables") is None:
        return False
    return subprocess.run(command(verb), capture_output=True, check=False).returncode == 0


def ensure(nft, known: set[int]) -> int | None:
    """Make sure fabric's rule is in DOCKER-USER when that chain exists. `known` holds
    the rule handle this process saw last time, so the usual call is one in-process
    listing and no subprocess. Returns the rule's handle (None: no Docker here)."""
    rules = _chain(nft, "ip", "filter", DOCKER_USER)
    if rules is None:
        return None
    handles = {o["rule"]["handle"] for o in rules if "rule" in o}
    if known & handles:
        return next(iter(known & handles))
    if not _iptables("-C") and not _iptables("-I"):
        return None  # no iptables binary, or it refused: current() will say so
    after = _chain(nft, "ip", "filter", DOCKER_USER) or []
    # iptables -I puts it first in the chain
    first = next((o["rule"]["handle"] for o in after if "rule" in o), None)
    return first


def remove(nft) -> bool:
    """Take fabric's rule out of DOCKER-USER; False when it was not there."""
    if not docker_user_present(nft):
        return False
    removed = False
    while _iptables("-C") and _iptables("-D"):
        removed = True
    return removed


def present(nft) -> bool:
    return docker_user_present(nft) and _iptables("-C")


def drop_policies(nft) -> list[tuple[str, str, str]]:
    """(family, table, chain) of every other table's forward chain whose policy is drop,
    which fabric's accept cannot overrule."""
    rc, out, _ = nft.cmd("list chains")
    if rc != 0:
        return []
    return [(c["family"], c["table"], c["name"]) for o in json.loads(out)["nftables"]
            if (c := o.get("chain")) and c.get("hook") == "forward"
            and c.get("policy") == "drop" and c["table"] != "fabric"]


def foreign_drops(nft) -> list[str]:
    """Forward chains of other tables that drop by policy: one line each, saying whether
    fabric got through."""
    lines = []
    for family, table, name in drop_policies(nft):
        where = f"{family} {table} {name}"
        if (family, table) == ("ip", "filter") and docker_user_present(nft):
            lines.append(f"{where} has policy drop: Docker's; fabric passes through "
                         f"{DOCKER_USER} (mark {ACCEPT_MARK:#x})")
        else:
            lines.append(f"{where} has policy drop: fabric's forwarded traffic is dropped "
                         f"there unless that firewall allows fabric's bridges")
    return lines
