"""fabric's iptables rules as the kernel has them, with their counters (`iptables-save
-c`, the same numbers `iptables -L -n -v` shows), chain by chain in order."""

import re
import subprocess

from fabric.firewall.backend import KernelRule

_COUNTED = re.compile(r"^\[(\d+):(\d+)\] (-A (\S+) .*)$")


def rules(chains: dict[str, list[str]]) -> list[KernelRule]:
    """Run inside the namespace; `chains`: table -> fabric's chains there."""
    p = subprocess.run(["iptables-save", "-c"], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return []
    out: list[KernelRule] = []
    table = ""
    for line in p.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
            continue
        m = _COUNTED.match(line)
        if m and m.group(4) in chains.get(table, ()):
            out.append(KernelRule(table, m.group(4), m.group(3), int(m.group(1)),
                                  int(m.group(2))))
    return out
