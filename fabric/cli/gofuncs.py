"""Values, printing and functions for fabric.cli.gotemplate.

Docker runs a template on its typed Go structs first (and on the raw JSON only when
that fails), so what a user sees follows Go's types: a null list prints `[]`, a null
map `map[]`, a null pointer `<nil>`, and only a key that is not there `<no value>`.
fabric holds JSON, so a null is printed by the field's name, from the fields of
Docker's inspect structs that can be null."""

import json
import re
from collections.abc import Callable
from typing import Any


class TemplateError(Exception):
    pass


class Nil:
    """A null (or absent) value, printed as Go prints the field's zero value."""

    __slots__ = ("shown",)

    def __init__(self, shown: str):
        self.shown = shown

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Nil({self.shown})"


MISSING = Nil("<no value>")
_SLICES = frozenset("""Aliases Args Binds CapAdd CapDrop Cmd DeviceCgroupRules DeviceRequests
    Devices Dns DnsOptions DnsSearch Entrypoint Env ExtraHosts GroupAdd Layers Links
    MaskedPaths Mounts OnBuild ReadonlyPaths RepoDigests RepoTags SecurityOpt Shell Test
    Ulimits VolumesFrom""".split())
_MAPS = frozenset("""Annotations Containers Data DriverOpts ExposedPorts Labels Networks
    Options PortBindings Ports StorageOpt Sysctls Tmpfs Volumes""".split())
_POINTERS = frozenset("""Config Health Healthcheck IPAMConfig Init MemorySwappiness Node
    OomKillDisable PidsLimit StopTimeout UsageData""".split())


def null_field(name: str) -> Nil:
    if name in _SLICES:
        return Nil("[]")
    if name in _MAPS:
        return Nil("map[]")
    if name in _POINTERS:
        return Nil("<nil>")
    return MISSING


def field(value: Any, name: str) -> Any:
    """`.Name` of a value: a map's key (a null one typed by its name), nothing for a
    value that is itself nothing; Go refuses a field of anything else."""
    if isinstance(value, dict):
        if name not in value:
            return MISSING
        v = value[name]
        return null_field(name) if v is None else v
    if value is None or isinstance(value, Nil):
        return MISSING
    raise TemplateError(f"can't evaluate field {name} in type {go_type(value)}")


def go_type(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}",
            dict: "map[string]interface {}"}.get(type(v), "interface {}")


def show(v: Any) -> str:
    """Go's %v."""
    if isinstance(v, Nil):
        return v.shown
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{show(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(show(x) for x in v) + "]"
    return str(v)


def to_json(v: Any) -> str:
    """Docker's `json`: Go's encoder, compact, HTML characters not escaped."""
    if isinstance(v, Nil):
        return "null"
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _quote(v: Any) -> str:
    return json.dumps(v if isinstance(v, str) else show(v), ensure_ascii=False)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def printf(fmt: str, *args: Any) -> str:
    """Go's Sprintf for the verbs templates use: %v %s %t %q %d %x %f %%, width, -."""
    rest = list(args)

    def one(m: re.Match) -> str:
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            return "%"
        if not rest:
            return f"%!{verb}(MISSING)"
        a = rest.pop(0)
        if verb in "vst":
            text = show(a)
        elif verb == "q":
            text = _quote(a)
        elif isinstance(a, bool) or not isinstance(a, int | float) or \
                (verb in "dxX" and not isinstance(a, int)):
            text = f"%!{verb}({go_type(a)}={show(a)})"
        elif verb == "d":
            text = str(a)
        elif verb in "xX":
            text = format(a, verb)
        else:
            text = format(a, f".{prec or 6}f")
        if not width:
            return text
        if "-" in flags:
            return text.ljust(int(width))
        return text.rjust(int(width), "0" if "0" in flags else " ")
    return _VERB.sub(one, fmt)


def index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, dict):
            if k in v:
                v = null_field(str(k)) if v[k] is None else v[k]
            else:
                # Go gives a missing key's zero value: "" in a map of strings
                v = "" if all(isinstance(x, str) for x in v.values()) else MISSING
        elif isinstance(v, list | str) and isinstance(k, int):
            if not 0 <= k < len(v):
                raise TemplateError(f"error calling index: index out of range: {k}")
            v = v[k]
        elif isinstance(v, Nil):
            v = MISSING
        else:
            raise TemplateError(f"error calling index: cannot index {go_type(v)}")
    return v


def length(v: Any) -> int:
    if isinstance(v, Nil):
        return 0
    if isinstance(v, list | dict | str):
        return len(v)
    raise TemplateError(f"error calling len: len of type {go_type(v)}")


def _plain(v: Any) -> Any:
    return None if isinstance(v, Nil) else v


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def cmp(a: Any, b: Any) -> bool:
        try:
            return op(_plain(a), _plain(b))
        except TypeError:
            raise TemplateError(f"incompatible types for comparison: {go_type(a)} and "
                                f"{go_type(b)}") from None
    return cmp


def _print(*args: Any) -> str:
    """Go's Sprint: a space between two operands when neither is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += show(a)
    return out


def _first(pick_truthy: bool) -> Callable[..., Any]:
    def pick(*args: Any) -> Any:
        for a in args:
            if bool(a) == pick_truthy:
                return a
        return args[-1]
    return pick


FUNCS: dict[str, Callable[..., Any]] = {
    "json": to_json,
    "index": index,
    "len": length,
    "join": lambda items, sep: sep.join(show(x) for x in (_plain(items) or [])),
    "split": lambda s, sep: str(s).split(sep),
    "upper": lambda s: show(s).upper(),
    "lower": lambda s: show(s).lower(),
    "title": lambda s: re.sub(r"\b[a-z]", lambda m: m.group().upper(), show(s)),
    "pad": lambda s, left, right: " " * left + show(s) + " " * right,
    "truncate": lambda s, n: show(s)[:n],
    "print": _print,
    "printf": printf,
    "println": lambda *args: " ".join(show(a) for a in args) + "\n",
    "eq": lambda a, *bs: any(_compare(lambda x, y: x == y)(a, b) for b in bs),
    "ne": _compare(lambda x, y: x != y),
    "lt": _compare(lambda x, y: x < y),
    "le": _compare(lambda x, y: x <= y),
    "gt": _compare(lambda x, y: x > y),
    "ge": _compare(lambda x, y: x >= y),
    "and": _first(False),
    "or": _first(True),
    "not": lambda v: not v,
}
