""".dockerignore: which files of the build context are left out.

Docker's rules: one pattern a line, `#` comments, a leading `!` takes files back in, the
last matching line decides; a pattern is cleaned like a path (a leading `/` dropped),
`*` and `?` stay within one path component, `**` spans any number of them, and a
pattern that matches a directory matches everything under it. Standard library only:
the CLI leaves ignored files out of the context it sends, and the daemon checks again
(a context from another client may include them).
"""

from __future__ import annotations

import os
import posixpath
import re

FILE = ".dockerignore"


def pattern_regex(pattern: str) -> re.Pattern:
    """Docker's path pattern (filepath.Match plus `**`) as a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):      # "**/" : zero or more directories
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


class Ignore:
    def __init__(self, lines: list[str]):
        self.rules: list[tuple[bool, re.Pattern]] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pat = posixpath.normpath(line[1:].strip() if negate else line).lstrip("/")
            if pat and pat != ".":
                self.rules.append((negate, pattern_regex(pat)))

    @property
    def negates(self) -> bool:
        return any(negate for negate, _ in self.rules)

    @classmethod
    def of_context(cls, context_dir: str) -> Ignore:
        try:
            with open(os.path.join(context_dir, FILE), encoding="utf-8") as f:
                return cls(f.read().splitlines())
        except (FileNotFoundError, IsADirectoryError):
            return cls([])

    def excluded(self, rel: str) -> bool:
        """Whether a context-relative path is left out."""
        path = posixpath.normpath(rel).lstrip("/")
        candidates = [path]
        parent = posixpath.dirname(path)
        while parent:
            candidates.append(parent)
            parent = posixpath.dirname(parent)
        result = False
        for negate, rx in self.rules:
            if any(rx.fullmatch(c) for c in candidates):
                result = not negate
        return result
