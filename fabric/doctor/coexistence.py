"""Other firewalls that drop what fabric forwards.

A drop in any base chain is final (fabric/firewall/coexist.py): Docker's `FORWARD DROP`
policy drops every packet fabric's containers forward, and with br_netfilter on, even
frames bridged between two containers of one network, unless fabric's one rule in
Docker's DOCKER-USER chain lets them through. That rule is fabric's (a render puts it
back); Docker's policy, ufw's or firewalld's, or a hand-made one, are not.
"""

import shlex

from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene
from fabric.firewall import coexist
from fabric.net import nsexec

BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def check(scene: Scene) -> list[Finding]:
    if not scene.own_interfaces():
        return []   # no network of fabric's forwards anything here
    return nsexec.run(scene.netns, _here, scene)


def _here(scene: Scene) -> list[Finding]:
    import nftables  # libnftables, inside the host's namespace (this thread's)
    nft = nftables.Nftables()
    nft.set_json_output(True)
    nets = ", ".join(n.name for n in scene.intent.networks if n.facts.interfaces)
    bridged = " (br_netfilter is on: traffic bridged between them too)" if _bridge_nf() \
        else ""
    iptables = scene.settings.firewall_backend == "iptables"
    out = []
    for family, table, chain in coexist.drop_policies(nft):
        where = f"{family} {table} {chain}"
        if (family, table, chain) == ("ip", "filter", "FORWARD"):
            if iptables:
                continue    # the backend's own accepts sit in that chain, ahead of it
            if coexist.docker_user_present(nft):
                if scene.intent.enabled and not coexist.present(nft):
                    out.append(Finding(
                        "docker-user",
                        f"Docker's FORWARD policy is DROP and fabric's rule in "
                        f"{coexist.DOCKER_USER} is missing: what containers of {nets} "
                        f"forward is dropped{bridged}",
                        _shell(coexist.command("-I")), repair=scene.fw.render))
                continue
            fix = "iptables -P FORWARD ACCEPT"
        else:
            fix = f"nft 'chain {family} {table} {chain} {{ policy accept; }}'"
        out.append(Finding(
            "forward-drop", f"{where} has policy drop, not Docker's and not fabric's: what "
            f"containers of {nets} forward is dropped there{bridged}", fix))
    return out


def _shell(argv: list[str]) -> str:
    """argv for a shell, an apostrophe inside double quotes rather than '"'"'."""
    return " ".join(f'"{a}"' if "'" in a and not any(c in a for c in '"$`\\') else
                    shlex.quote(a) for a in argv)


def _bridge_nf() -> bool:
    try:
        with open(BRIDGE_NF) as f:      # this thread's namespace (nsexec)
            return f.read().strip() == "1"
    except OSError:
        return False
