"""Go's text/template, as much of it as `inspect -f` and `--format` users write:
fields `.A.B`, variables `$x`, pipelines `a | b`, parenthesised pipelines and fields of
their result `(index .IPAM.Config 0).Subnet`, `{{if}}`/`{{else if}}`/`{{else}}`,
`{{range}}` (with `$i, $e :=`), `{{with}}`, `{{- trimming -}}`, comments, and the
functions of Go and Docker (fabric.cli.gofuncs). `\\t` and `\\n` in the format are
tab and newline, as Docker's `--format` reads them.

A template is scanned into text and actions, parsed into a tree, then run against the
data; parse errors and run errors are TemplateError."""

import json
import re
from typing import Any

from fabric.cli.gofuncs import FUNCS, Nil, TemplateError, show
from fabric.cli.gofuncs import field as get_field

__all__ = ["TemplateError", "render"]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<punct>[()|,])
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
  | (?P<var>\$\w*(?:\.\w+)*)
  | (?P<field>(?:\.\w+)+|\.)
  | (?P<ident>[A-Za-z_]\w*)
""", re.X)
_SPACE = " \t\r\n"


class Tok:
    __slots__ = ("kind", "text", "spaced")

    def __init__(self, kind: str, text: str, spaced: bool):
        # spaced: whitespace before it, so `(x).F` chains and `(x) .F` is an argument
        self.kind, self.text, self.spaced = kind, text, spaced


class Pipe:
    __slots__ = ("cmds", "decl", "assign")

    def __init__(self, cmds: list[list[tuple]]):
        self.cmds = cmds                   # commands, each a list of operands
        self.decl: list[str] = []          # variables it declares or assigns
        self.assign = False                # `$x = ...` rather than `$x := ...`


# ---- scanning: text and actions ----------------------------------------------------------

def _action_end(t: str, i: int) -> int:
    """Index of the `}}` closing the action starting at i, past any quoted text."""
    while i < len(t) - 1:
        c = t[i]
        if c in "\"'`":
            j = i + 1
            while j < len(t) and t[j] != c:
                j += 2 if t[j] == "\\" and c != "`" else 1
            i = j + 1
            continue
        if t.startswith("}}", i):
            return i
        i += 1
    raise TemplateError("unclosed action")


def _scan(t: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while (start := t.find("{{", pos)) >= 0:
        text, i = t[pos:start], start + 2
        if t[i:i + 1] == "-" and t[i + 1:i + 2] in tuple(_SPACE):
            text, i = text.rstrip(_SPACE), i + 1
        end = _action_end(t, i)
        inner = t[i:end]
        pos = end + 2
        if len(inner) >= 2 and inner[-1] == "-" and inner[-2] in _SPACE:
            inner = inner[:-1]
            while pos < len(t) and t[pos] in _SPACE:
                pos += 1
        out.append(("text", text))
        inner = inner.strip()
        if not (inner.startswith("/*") and inner.endswith("*/")):
            out.append(("action", inner))
    out.append(("text", t[pos:]))
    return [x for x in out if x != ("text", "")]


# ---- parsing actions ----------------------------------------------------------------------

def _tokens(action: str) -> list[Tok]:
    toks, pos, spaced = [], 0, True
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if not m:
            raise TemplateError(f"unexpected {action[pos]!r} in command")
        pos = m.end()
        if m.lastgroup == "ws":
            spaced = True
            continue
        toks.append(Tok(str(m.lastgroup), m.group(), spaced))
        spaced = False
    return toks


def _literal(tok: Tok) -> Any:
    if tok.kind in ("str", "char"):
        # Go's escapes in a quoted string are JSON's, besides \' \a \v and \x
        body = tok.text[1:-1].replace("\\'", "'").replace("\\a", "\\u0007") \
            .replace("\\v", "\\u000b")
        body = re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", body)
        try:
            v = json.loads(f'"{body}"')
        except ValueError:
            raise TemplateError(f"invalid syntax: {tok.text}") from None
        return ord(v) if tok.kind == "char" else v
    if tok.kind == "raw":
        return tok.text[1:-1]
    return int(tok.text, 0) if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", tok.text) \
        else float(tok.text)


def _operand(toks: list[Tok], i: int) -> tuple[tuple, int]:
    t = toks[i]
    if t.kind in ("str", "raw", "char", "num"):
        node: tuple = ("lit", _literal(t))
    elif t.kind == "ident":
        consts = {"true": True, "false": False, "nil": None}
        if t.text in consts:
            node = ("lit", consts[t.text])
        elif t.text in FUNCS:
            node = ("fn", t.text)
        else:
            raise TemplateError(f'function "{t.text}" not defined')
    elif t.kind == "field":
        node = ("field", t.text.split(".")[1:] if t.text != "." else [])
    elif t.kind == "var":
        name, *names = t.text.split(".")
        node = ("var", name, names)
    elif t.text == "(":
        pipe, i = _pipeline(toks, i + 1, nested=True)
        if i >= len(toks) or toks[i].text != ")":
            raise TemplateError("unclosed left paren")
        node = ("paren", pipe)
    else:
        raise TemplateError(f"unexpected {t.text!r} in operand")
    i += 1
    while i < len(toks) and toks[i].kind == "field" and not toks[i].spaced and \
            toks[i].text != ".":
        node = ("chain", node, toks[i].text.split(".")[1:])
        i += 1
    return node, i


def _pipeline(toks: list[Tok], i: int = 0, nested: bool = False) -> tuple[Pipe, int]:
    pipe = Pipe([])
    j = i
    names = []
    while j < len(toks) and toks[j].kind == "var" and "." not in toks[j].text:
        names.append(toks[j].text)
        if j + 1 < len(toks) and toks[j + 1].text == ",":
            j += 2
            continue
        if j + 1 < len(toks) and toks[j + 1].kind in ("decl", "assign"):
            pipe.decl, pipe.assign, i = names, toks[j + 1].kind == "assign", j + 2
        break
    cmd: list[tuple] = []
    while i < len(toks) and not (nested and toks[i].text == ")"):
        if toks[i].text == "|":
            if not cmd:
                raise TemplateError("missing command before |")
            pipe.cmds.append(cmd)
            cmd, i = [], i + 1
            continue
        node, i = _operand(toks, i)
        cmd.append(node)
    if not cmd:
        raise TemplateError("missing value for command")
    pipe.cmds.append(cmd)
    return pipe, i


def _parse_pipe(text: str) -> Pipe:
    toks = _tokens(text)
    pipe, i = _pipeline(toks)
    if i != len(toks):
        raise TemplateError(f"unexpected {toks[i].text!r} in command")
    return pipe


# ---- the tree -------------------------------------------------------------------------------

class _Parser:
    def __init__(self, items: list[tuple[str, str]]):
        self.items, self.i = items, 0

    def nodes(self, stops: tuple[str, ...] = ()) -> tuple[list, str, str]:
        """Nodes up to one of the stop keywords; returns (nodes, keyword, its rest)."""
        out: list = []
        while self.i < len(self.items):
            kind, text = self.items[self.i]
            self.i += 1
            if kind == "text":
                out.append(("text", text))
                continue
            word, _, rest = text.partition(" ")
            rest = rest.strip()
            if word in stops:
                return out, word, rest
            if word in ("end", "else"):
                raise TemplateError(f"unexpected {{{{{word}}}}}")
            if word in ("if", "with", "range"):
                out.append(self.block(word, rest))
            elif word in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"{{{{{word}}}}} is not supported here")
            else:
                out.append(("pipe", _parse_pipe(text)))
        if stops:
            raise TemplateError("unexpected EOF: missing {{end}}")
        return out, "", ""

    def block(self, word: str, rest: str) -> tuple:
        if not rest:
            raise TemplateError(f"missing value for {word}")
        pipe = _parse_pipe(rest)
        body, stop, after = self.nodes(("else", "end"))
        other: list = []
        if stop == "else":
            follow, _, cond = after.partition(" ")
            if follow == word == "if" and cond.strip():
                other = [self.block("if", cond.strip())]   # shares the one {{end}}
            else:
                other, _, _ = self.nodes(("end",))
        return (word, pipe, body, other)


# ---- running ----------------------------------------------------------------------------------

class _Scope:
    def __init__(self, outer: "_Scope | None" = None):
        self.vars: dict[str, Any] = {}
        self.outer = outer

    def get(self, name: str) -> Any:
        s: _Scope | None = self
        while s is not None:
            if name in s.vars:
                return s.vars[name]
            s = s.outer
        raise TemplateError(f"undefined variable: {name}")

    def set(self, name: str, value: Any, declare: bool) -> None:
        s: _Scope | None = self
        while not declare and s is not None and name not in s.vars:
            s = s.outer
        (s if s is not None and not declare else self).vars[name] = value


def _fields(v: Any, names: list[str]) -> Any:
    for n in names:
        v = get_field(v, n)
    return v


def _value(node: tuple, dot: Any, scope: _Scope) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return _fields(dot, node[1])
    if kind == "var":
        return _fields(scope.get(node[1]), node[2])
    if kind == "paren":
        return _run_pipe(node[1], dot, scope)
    if kind == "chain":
        return _fields(_value(node[1], dot, scope), node[2])
    return FUNCS[node[1]]()      # a function named alone: called without arguments


_NONE = object()


def _run_pipe(pipe: Pipe, dot: Any, scope: _Scope) -> Any:
    val: Any = _NONE
    for cmd in pipe.cmds:
        head = cmd[0]
        if head[0] == "fn":
            args = [_value(o, dot, scope) for o in cmd[1:]]
            if val is not _NONE:
                args.append(val)
            try:
                val = FUNCS[head[1]](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError) as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
        elif len(cmd) > 1 or val is not _NONE:
            raise TemplateError(f"can't give argument to non-function {_describe(head)}")
        else:
            val = _value(head, dot, scope)
    for name in pipe.decl:
        scope.set(name, val, declare=not pipe.assign)
    return val


def _describe(node: tuple) -> str:
    return "." + ".".join(node[1]) if node[0] == "field" else str(node[1])


def _items(v: Any) -> list[tuple[Any, Any]]:
    if isinstance(v, dict):
        return sorted(v.items())
    if isinstance(v, list):
        return list(enumerate(v))
    if v is None or isinstance(v, Nil):
        return []
    if isinstance(v, int) and not isinstance(v, bool):
        return [(i, i) for i in range(v)]
    raise TemplateError(f"range can't iterate over {show(v)}")


def _run(nodes: list, dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "pipe":
            v = _run_pipe(node[1], dot, scope)
            if not node[1].decl:
                out.append(v if isinstance(v, str) else show(v))
        elif kind == "range":
            pipe, inner = node[1], _Scope(scope)
            items = _items(_run_pipe(Pipe(pipe.cmds), dot, scope))
            for k, item in items:
                if len(pipe.decl) == 2:
                    inner.set(pipe.decl[0], k, True)
                if pipe.decl:
                    inner.set(pipe.decl[-1], item, True)
                _run(node[2], item, inner, out)
            if not items:
                _run(node[3], dot, _Scope(scope), out)
        else:   # if, with
            inner = _Scope(scope)
            v = _run_pipe(node[1], dot, inner)
            if v:
                _run(node[2], v if kind == "with" else dot, inner, out)
            else:
                _run(node[3], dot, _Scope(scope), out)


def render(tmpl: str, data: Any) -> str:
    tmpl = tmpl.replace("\\t", "\t").replace("\\n", "\n")
    nodes, _, _ = _Parser(_scan(tmpl)).nodes()
    scope = _Scope()
    scope.vars["$"] = data
    out: list[str] = []
    _run(nodes, data, scope, out)
    return "".join(out)

