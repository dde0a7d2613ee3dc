"""Words of Dockerfile arguments: quotes, the escape character, `$VAR` substitution.

As Docker's builder does it: single quotes keep everything literal; double quotes allow
substitution; the escape character makes the next character literal (inside double
quotes only before `"`, `$` and itself); `$NAME`, `${NAME}`, `${NAME:-default}` (the
default when NAME is unset or empty) and `${NAME:+alternative}` (the alternative when it
is set). An unset variable is empty.
"""

from __future__ import annotations

import re

from fabric.errors import InvalidArgument

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def split(text: str, escape: str = "\\") -> list[str]:
    """Raw words, split at whitespace outside quotes; quotes and escapes kept."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == escape and quote != "'" and i + 1 < len(text):
            cur += [ch, text[i + 1]]
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if quote:
        raise InvalidArgument(f"unmatched {quote} in {text!r}")
    if cur:
        words.append("".join(cur))
    return words


class _Lexer:
    def __init__(self, text: str, env: dict[str, str], escape: str):
        self.s, self.env, self.esc, self.i = text, env, escape, 0

    def word(self, stop: str = "") -> str:
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if stop and ch in stop:
                break
            self.i += 1
            if ch == self.esc and self.i < len(self.s):
                out.append(self.s[self.i])
                self.i += 1
            elif ch == "'":
                end = self.s.find("'", self.i)
                if end < 0:
                    raise InvalidArgument(f"unmatched ' in {self.s!r}")
                out.append(self.s[self.i:end])
                self.i = end + 1
            elif ch == '"':
                out.append(self._double())
            elif ch == "$":
                out.append(self._variable())
            else:
                out.append(ch)
        return "".join(out)

    def _double(self) -> str:
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            self.i += 1
            if ch == '"':
                return "".join(out)
            if ch == self.esc and self.i < len(self.s) and self.s[self.i] in f'"${self.esc}':
                out.append(self.s[self.i])
                self.i += 1
            elif ch == "$":
                out.append(self._variable())
            else:
                out.append(ch)
        raise InvalidArgument(f'unmatched " in {self.s!r}')

    def _variable(self) -> str:
        if self.s.startswith("{", self.i):
            self.i += 1
            m = _NAME.match(self.s, self.i)
            if not m:
                raise InvalidArgument(f"bad substitution in {self.s!r}")
            name, self.i = m.group(0), m.end()
            value = self.env.get(name, "")
            if self.s.startswith("}", self.i):
                self.i += 1
                return value
            op = self.s[self.i:self.i + 2]
            if op not in (":-", ":+"):
                raise InvalidArgument(f"unsupported modifier {op!r} in {self.s!r} "
                                      "(use ${VAR:-default} or ${VAR:+alternative})")
            self.i += 2
            word = self.word(stop="}")
            if not self.s.startswith("}", self.i):
                raise InvalidArgument(f"missing '}}' in {self.s!r}")
            self.i += 1
            if op == ":-":
                return value or word
            return word if value else ""
        m = _NAME.match(self.s, self.i)
        if not m:
            return "$"
        self.i = m.end()
        return self.env.get(m.group(0), "")


def process(word: str, env: dict[str, str], escape: str = "\\") -> str:
    """One word with quotes removed and variables substituted."""
    return _Lexer(word, env, escape).word()


def process_all(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    return [process(w, env, escape) for w in split(text, escape)]


def pairs(text: str, env: dict[str, str], escape: str, what: str) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG arguments: `k=v k2="v 2"`, or the legacy `k the rest of the line`."""
    raw = split(text, escape)
    if raw and "=" not in raw[0]:
        if len(raw) == 1:
            raise InvalidArgument(f"{what} names {raw[0]!r} but gives it no value "
                                  f"({what} KEY=VALUE)")
        rest = text.strip()[len(raw[0]):].strip()
        return [(raw[0], process(rest, env, escape))]
    out = []
    for w in raw:
        if "=" not in w:
            raise InvalidArgument(f"{what} syntax: {w!r} is not KEY=VALUE")
        k, _, v = w.partition("=")
        key = process(k, env, escape)
        if not key:
            raise InvalidArgument(f"{what} has an empty name in {w!r}")
        out.append((key, process(v, env, escape)))
    return out
