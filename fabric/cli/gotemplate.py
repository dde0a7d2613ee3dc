"""The subset of Go's text/template that `inspect -f` and `--format` users write:
`{{.A.B}}`, `{{json .X}}`, `{{index .M "k"}}`, `{{range .L}}..{{end}}`,
`{{if .X}}..{{else}}..{{end}}`, `{{upper}}`/`{{lower}}`/`{{join .L ","}}`/`{{len .X}}`,
`{{println}}`, and `\\t`/`\\n` escapes, with Go's printing of maps, lists and nil."""

import json
import re
import shlex
from typing import Any

_TOKEN = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


class TemplateError(Exception):
    pass


# An open block while parsing: (kind, its expression, its body, the body before {{else}}).
_Block = tuple[str, str | None, list[Any], list[Any] | None]


def _gofmt(v) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_gofmt(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_gofmt(x) for x in v) + "]"
    return str(v)


def _field(data, path: str):
    if path == ".":
        return data
    cur = data
    for part in path.lstrip(".").split("."):
        if isinstance(cur, dict):
            if part not in cur:
                # Go errors on a missing struct field; be lenient on map keys.
                return None
            cur = cur[part]
        else:
            return None
    return cur


def _arg(tok: str, data, vars_: dict):
    if tok.startswith('"') or tok.startswith("'") or tok.startswith("`"):
        return tok.strip("\"'`")
    if tok.startswith("$"):
        name, _, rest = tok.partition(".")
        base = vars_.get(name)
        return _field(base, "." + rest) if rest else base
    if tok.startswith("."):
        return _field(data, tok)
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    raise TemplateError(f"cannot evaluate {tok!r}")


def _eval(expr: str, data, vars_: dict):
    try:
        words = shlex.split(expr, posix=False)
    except ValueError as e:
        raise TemplateError(str(e)) from None
    if not words:
        return ""
    fn, args = words[0], words[1:]
    vals = lambda: [_arg(a, data, vars_) for a in args]  # noqa: E731
    if fn == "json":
        return json.dumps(vals()[0])
    if fn == "index":
        v = vals()
        cur = v[0]
        for k in v[1:]:
            if isinstance(cur, dict):
                cur = cur.get(k)
            else:
                cur = cur[k] if isinstance(cur, list) else None
        return cur
    if fn in ("upper", "lower", "title"):
        s = str(vals()[0]) if args else ""
        return s.upper() if fn == "upper" else s.lower() if fn == "lower" else s.title()
    if fn == "join":
        v = vals()
        return v[1].join(str(x) for x in (v[0] or []))
    if fn == "len":
        return len(vals()[0] or [])
    if fn == "println":
        return " ".join(_gofmt(x) for x in vals()) + "\n"
    if fn == "print":
        return " ".join(_gofmt(x) for x in vals())
    if fn == "printf":
        v = vals()
        return v[0].replace("%s", "{}").replace("%d", "{}").replace("%v", "{}").format(
            *[_gofmt(x) for x in v[1:]])
    if fn == "split":
        v = vals()
        return str(v[0]).split(v[1])
    if fn == "table":
        return _eval(" ".join(args), data, vars_)
    return _arg(fn, data, vars_)


def _parse(tmpl: str) -> list[Any]:
    """A tree of ("text", s) / ("expr", e) / ("range"|"if", e, body, else_body)."""
    pos = 0
    stack: list[_Block] = [("root", None, [], None)]
    for m in _TOKEN.finditer(tmpl):
        if m.start() > pos:
            stack[-1][2].append(("text", tmpl[pos:m.start()]))
        pos = m.end()
        action = m.group(1)
        word = action.split(None, 1)[0] if action else ""
        if word in ("range", "if", "with"):
            stack.append((word, action[len(word):].strip(), [], None))
        elif word == "else":
            kind, e, body, _ = stack.pop()
            stack.append((kind, e, [], body))
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError("unexpected {{end}}")
            kind, e, body, first = stack.pop()
            node: tuple[str, str | None, list[Any], list[Any]] = \
                (kind, e, first, body) if first is not None else (kind, e, body, [])
            stack[-1][2].append(node)
        else:
            stack[-1][2].append(("expr", action))
    if pos < len(tmpl):
        stack[-1][2].append(("text", tmpl[pos:]))
    if len(stack) != 1:
        raise TemplateError("missing {{end}}")
    return stack[0][2]


def _run(nodes, data, vars_: dict, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "expr":
            expr = node[1]
            if ":=" in expr:
                name, _, rhs = expr.partition(":=")
                vars_[name.strip()] = _eval(rhs.strip(), data, vars_)
                continue
            v = _eval(expr, data, vars_)
            out.append(v if isinstance(v, str) else _gofmt(v))
        elif kind in ("if", "with"):
            v = _eval(node[1], data, vars_)
            if v:
                _run(node[2], v if kind == "with" else data, vars_, out)
            else:
                _run(node[3], data, vars_, out)
        elif kind == "range":
            expr = node[1]
            names = []
            if ":=" in expr:
                lhs, _, expr = expr.partition(":=")
                names = [n.strip() for n in lhs.split(",")]
            v = _eval(expr.strip(), data, vars_)
            items = sorted(v.items()) if isinstance(v, dict) else list(enumerate(v or []))
            if not items:
                _run(node[3], data, vars_, out)
            for k, item in items:
                if len(names) == 2:
                    vars_[names[0]], vars_[names[1]] = k, item
                elif len(names) == 1:
                    vars_[names[0]] = item
                _run(node[2], item, vars_, out)


def render(tmpl: str, data) -> str:
    tmpl = tmpl.replace("\\t", "\t").replace("\\n", "\n")
    out: list[str] = []
    _run(_parse(tmpl), data, {"$": data}, out)
    return "".join(out)
