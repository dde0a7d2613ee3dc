"""The chains and rules of a namespace as the kernel holds them, to name what a trace
event points at: a rule by its table and handle, a chain by its hook and type.

Read once per namespace, after the probe, from nft's own listing with handles and
without set contents (`nft -a -t list ruleset`): the text nft prints is what a person
would type, which is what a trace should show. Rules that iptables-nft made (Debian's
`iptables`, and Docker's) print there as nft's translation, so for its tables the
rules are also named as `iptables-save` prints them, chain by chain in the same order
(iptables-nft keeps one nft rule per iptables rule, in order).
"""

import re
import subprocess
from dataclasses import dataclass, field

from fabric.net import nsexec

HANDLE = re.compile(r"^(.*?)\s*# handle (\d+)$")
TABLE = re.compile(r"^table (\S+) (\S+) \{")
CHAIN = re.compile(r"^chain (\S+) \{")
BASE = re.compile(r"^type (\S+) hook (\S+)(?: device \S+)? priority ([^;]+);(?: policy (\w+);)?")
COMMENT = re.compile(r'comment "([^"]*)"')
SETS = re.compile(r"@(\w+)")
IPT_COMMENT = re.compile(r'--comment ("[^"]*"|\S+)')
IPTABLES_TABLES = ("filter", "nat", "raw", "mangle", "security")


@dataclass(frozen=True)
class Chain:
    family: str
    table: str
    name: str
    hook: str | None = None     # base chains only
    type: str | None = None     # "filter", "nat", "route"
    policy: str | None = None


@dataclass(frozen=True)
class Rule:
    family: str
    table: str
    chain: str
    handle: int
    index: int              # 1-based position in its chain
    text: str               # as nft prints it (or iptables-save, for iptables' tables)
    comment: str = ""
    sets: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.family} {self.table} {self.chain}"


@dataclass
class Ruleset:
    chains: dict[tuple[str, str, str], Chain] = field(default_factory=dict)
    rules: dict[tuple[str, str, int], Rule] = field(default_factory=dict)

    def chain(self, family: str, table: str, name: str) -> Chain:
        return self.chains.get((family, table, name)) or Chain(family, table, name)

    def rule(self, family: str, table: str, handle: int | None) -> Rule | None:
        return None if handle is None else self.rules.get((family, table, handle))

    def count(self, family: str, table: str, chain: str) -> int:
        """How many rules a chain holds."""
        return sum(1 for r in self.rules.values() if (r.family, r.table, r.chain) ==
                   (family, table, chain))


def parse(text: str) -> Ruleset:
    rs = Ruleset()
    family = table = chain = None
    index = 0
    for raw in text.splitlines():
        line = raw.strip()
        if m := TABLE.match(line):
            family, table, chain = m.group(1), m.group(2), None
        elif m := CHAIN.match(line):
            chain, index = m.group(1), 0
            rs.chains[(family or "", table or "", chain)] = Chain(family or "", table or "",
                                                                 chain)
        elif chain and (m := BASE.match(line)):
            rs.chains[(family or "", table or "", chain)] = Chain(
                family or "", table or "", chain, m.group(2), m.group(1), m.group(4))
        elif line == "}":
            chain = None
        elif chain and (m := HANDLE.match(line)):
            index += 1
            body = m.group(1)
            c = COMMENT.search(body)
            rs.rules[(family or "", table or "", int(m.group(2)))] = Rule(
                family or "", table or "", chain, int(m.group(2)), index, body,
                c.group(1) if c else "", tuple(SETS.findall(body)))
    return rs


def read(nft, netns: str | None) -> Ruleset:
    """The ruleset of the namespace whose libnftables context `nft` is."""
    nft.set_handle_output(True)
    nft.set_terse_output(True)
    rc, out, _err = nft.cmd("list ruleset")
    rs = parse(out if rc == 0 else "")
    if any(f == "ip" and t in IPTABLES_TABLES for f, t, _ in rs.chains):
        _name_iptables_rules(rs, nsexec.run(netns, _iptables_save))
    return rs


def _iptables_save() -> str:
    try:
        p = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=10,
                           check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return p.stdout if p.returncode == 0 else ""


def _name_iptables_rules(rs: Ruleset, saved: str) -> None:
    """Each rule of iptables' tables named by its iptables-save line, matched by
    chain and position."""
    lines: dict[tuple[str, str], list[str]] = {}
    table = ""
    for ln in saved.splitlines():
        if ln.startswith("*"):
            table = ln[1:]
        elif ln.startswith("-A "):
            chain = ln.split()[1]
            lines.setdefault((table, chain), []).append(ln)
    for key, rule in list(rs.rules.items()):
        if rule.family != "ip" or rule.table not in IPTABLES_TABLES:
            continue
        got = lines.get((rule.table, rule.chain), [])
        if rule.index <= len(got):
            text = got[rule.index - 1]
            c = IPT_COMMENT.search(text)
            rs.rules[key] = Rule(rule.family, rule.table, rule.chain, rule.handle,
                                 rule.index, text, c.group(1).strip('"') if c else "",
                                 rule.sets)
