"""A rendered nftables ruleset as data: tables, sets, chains, rules, and set elements.

The skeleton (everything but the elements) depends only on which user rules exist, so
it almost never changes; links, endpoints and published ports are set and map
elements. That split is what lets `apply` send only the changed elements when the
skeleton is the same (see nft.py), keeping the cost of one more link constant.
"""

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

from fabric.firewall import nftexpr as nx


class PortRange(NamedTuple):
    first: int
    last: int


class Prefix(NamedTuple):
    addr: str
    length: int


Atom = str | int | PortRange | Prefix
Element = Atom | tuple  # a tuple is a concatenation; a map element is (key, value)


@dataclass(frozen=True)
class Prio:
    value: int
    text: str   # the name nft prints, e.g. "filter - 10"


@dataclass(frozen=True)
class SetSpec:
    family: str
    name: str
    type: tuple[str, ...]
    flags: tuple[str, ...] = ()
    map: tuple[str, ...] | None = None  # value type of a map
    comment: str = ""


@dataclass(frozen=True)
class ChainSpec:
    family: str
    name: str
    type: str | None = None   # base chains only
    hook: str | None = None
    prio: Prio | None = None
    policy: str = "accept"


@dataclass(frozen=True)
class RuleSpec:
    family: str
    chain: str
    stmts: tuple[nx.X, ...]
    comment: str = ""

    @property
    def text(self) -> str:
        body = " ".join(s.text for s in self.stmts)
        return f'{body} comment "{self.comment}"' if self.comment else body


@dataclass
class Ruleset:
    tables: list[tuple[str, str]] = field(default_factory=list)   # (family, name)
    sets: list[SetSpec] = field(default_factory=list)
    chains: list[ChainSpec] = field(default_factory=list)
    rules: list[RuleSpec] = field(default_factory=list)
    elements: dict[tuple[str, str], frozenset] = field(default_factory=dict)
    digest: str = ""  # skeleton_digest(), once computed

    def copy(self) -> "Ruleset":
        """The same skeleton (shared, it is never mutated) with elements of its own."""
        return Ruleset(self.tables, self.sets, self.chains, self.rules, {}, self.digest)

    def skeleton_digest(self) -> str:
        """Identifies everything but the elements: equal digests mean a change can be
        sent as element additions and deletions alone."""
        if self.digest:
            return self.digest
        h = hashlib.sha256()
        for part in (self.tables, self.sets, self.chains):
            h.update(repr(part).encode())
        for r in self.rules:
            h.update(f"{r.family} {r.chain} {r.text}\n".encode())
        return h.hexdigest()

    def set_spec(self, key: tuple[str, str]) -> SetSpec:
        for s in self.sets:
            if (s.family, s.name) == key:
                return s
        raise KeyError(key)


# --- elements in JSON and in nft syntax -----------------------------------------------

def atom_json(a: Atom):
    if isinstance(a, PortRange):
        return a.first if a.first == a.last else {"range": [a.first, a.last]}
    if isinstance(a, Prefix):
        # a /32 is listed back by the kernel as the bare address: spell it that way too
        return a.addr if a.length == 32 else {"prefix": {"addr": a.addr, "len": a.length}}
    return a


def atom_text(a: Atom, typ: str) -> str:
    if isinstance(a, PortRange):
        return str(a.first) if a.first == a.last else f"{a.first}-{a.last}"
    if isinstance(a, Prefix):
        return a.addr if a.length == 32 else f"{a.addr}/{a.length}"
    return f'"{a}"' if typ == "ifname" else str(a)


def _key_json(key: Element):
    if isinstance(key, tuple) and not isinstance(key, (PortRange, Prefix)):
        return {"concat": [atom_json(a) for a in key]}
    return atom_json(key)


def _key_text(key: Element, types: tuple[str, ...]) -> str:
    if isinstance(key, tuple) and not isinstance(key, (PortRange, Prefix)):
        return " . ".join(atom_text(a, t) for a, t in zip(key, types))
    return atom_text(key, types[0])


def element_json(spec: SetSpec, e: Element):
    if spec.map is not None:
        assert isinstance(e, tuple)   # a map element is (key, value)
        return [_key_json(e[0]), _key_json(e[1])]
    return _key_json(e)


def element_text(spec: SetSpec, e: Element) -> str:
    if spec.map is not None:
        assert isinstance(e, tuple)
        return f"{_key_text(e[0], spec.type)} : {_key_text(e[1], spec.map)}"
    return _key_text(e, spec.type)
