"""nftables expressions and statements that know both of their spellings.

Each builder returns a value carrying the libnftables JSON (what `apply` sends) and the
nft syntax (what `describe` prints), so the two cannot drift apart: the tests load the
printed script into a scratch namespace and compare it with the JSON-applied one.
Only what fabric's rulesets use is here.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class X:
    """An expression or a statement: its JSON object and its nft text."""
    json: Any
    text: str

    def __str__(self) -> str:
        return self.text


# --- expressions ----------------------------------------------------------------------

def meta(key: str) -> X:
    # iifname/oifname/mark read better bare, as `nft list` prints them
    bare = key in ("iifname", "oifname")
    return X({"meta": {"key": key}}, key if bare else f"meta {key}")


def payload(proto: str, field: str) -> X:
    return X({"payload": {"protocol": proto, "field": field}}, f"{proto} {field}")


def ct(key: str) -> X:
    return X({"ct": {"key": key}}, f"ct {key}")


def fib_daddr_type() -> X:
    return X({"fib": {"result": "type", "flags": ["daddr"]}}, "fib daddr type")


def concat(*parts: X) -> X:
    return X({"concat": [p.json for p in parts]}, " . ".join(p.text for p in parts))


def ref(name: str) -> X:
    """A named set or map of the same table."""
    return X(f"@{name}", f"@{name}")


def lit(value: str | int) -> X:
    """A bare literal: an address, a protocol, a port, a keyword."""
    return X(value, str(value))


def ifname(name: str) -> X:
    """An interface name, which nft syntax quotes."""
    return X(name, f'"{name}"')


def prefix(addr: str, length: int) -> X:
    return X({"prefix": {"addr": addr, "len": length}}, f"{addr}/{length}")


def anon_set(*values: str) -> X:
    return X({"set": list(values)}, "{ " + ", ".join(values) + " }")


def bitand(left: X, flags: list[str]) -> X:
    return X({"&": [left.json, flags]}, f"{left.text} & ({' | '.join(flags)})")


def bitand_int(left: X, value: int) -> X:
    return X({"&": [left.json, value]}, f"{left.text} & {value:#010x}")


def bitor(left: X, value: int) -> X:
    return X({"|": [left.json, value]}, f"{left.text} | {value:#010x}")


def map_lookup(key: X, name: str) -> X:
    return X({"map": {"key": key.json, "data": f"@{name}"}}, f"{key.text} map @{name}")


# --- statements -----------------------------------------------------------------------

def match(left: X, right: X, op: str = "==") -> X:
    if op == "==" and " & " not in left.text or op == "in":
        text = f"{left.text} {right.text}"
    else:
        text = f"{left.text} {op} {right.text}"
    return X({"match": {"op": op, "left": left.json, "right": right.json}}, text)


def flags(*names: str) -> X:
    """A flag list as the right side of an `in` match (ct state, ct status)."""
    return X(list(names) if len(names) > 1 else names[0], ",".join(names))


def set_mark_or(bit: int) -> X:
    """OR one bit into the packet mark, leaving other software's bits alone."""
    value = bitor(meta("mark"), bit)
    return X({"mangle": {"key": {"meta": {"key": "mark"}}, "value": value.json}},
             f"meta mark set {value.text}")


def dnat_maps(key: X, addr_map: str, port_map: str) -> X:
    """DNAT to the address one map gives for the key and the port another gives.

    One map with `ipv4_addr . inet_service` data would do in nft syntax, but
    libnftables 1.0.6 (Debian 12) crashes on that statement in JSON, so: two lookups,
    still constant time."""
    a, p = map_lookup(key, addr_map), map_lookup(key, port_map)
    return X({"dnat": {"family": "ip", "addr": a.json, "port": p.json}},
             f"dnat ip to {a.text} : {p.text}")


def masquerade() -> X:
    return X({"masquerade": None}, "masquerade")


def notrack() -> X:
    return X({"notrack": None}, "notrack")


def counter() -> X:
    return X({"counter": None}, "counter")


def verdict(kind: str, target: str | None = None) -> X:
    if target is not None:  # jump / goto
        return X({kind: {"target": target}}, f"{kind} {target}")
    return X({kind: None}, kind)


ACCEPT = verdict("accept")
DROP = verdict("drop")
RETURN = verdict("return")
REJECT = X({"reject": None}, "reject")
