"""The Dockerfile parser: logical lines, instructions, flags, stages.

Docker's rules: parser directives (`# escape=`` `, `# syntax=`) only at the very top;
comment lines dropped, also inside a continued instruction; a line ending in the escape
character continues on the next; instruction names in any case; `--flag=value` words
right after the instruction; exec form when the arguments are a JSON array of strings.
Every error names the file and the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fabric.errors import InvalidArgument

INSTRUCTIONS = ("FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE",
                "VOLUME", "CMD", "ENTRYPOINT", "LABEL", "ONBUILD", "HEALTHCHECK",
                "STOPSIGNAL", "SHELL", "MAINTAINER")
# The flags each instruction takes (the classic builder's; BuildKit's --mount and
# --chmod are refused by name rather than silently ignored).
FLAGS = {"FROM": ("platform",), "COPY": ("from", "chown"), "ADD": ("chown",),
         "HEALTHCHECK": ("interval", "timeout", "start-period", "retries")}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"^--([a-z][a-z-]*)(?:=(.*))?$")


class DockerfileError(InvalidArgument):
    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


@dataclass
class Instruction:
    cmd: str                      # upper case: RUN, COPY, ...
    args: str                     # the arguments as written (continuations joined)
    line: int                     # where it starts, 1-based
    original: str                 # as `docker build` echoes it: "RUN echo hi"
    flags: dict[str, str] = field(default_factory=dict)

    def exec_form(self) -> list[str] | None:
        """The arguments as an exec-form list, or None for the shell form."""
        return json_array(self.args)


@dataclass
class Stage:
    base: str                     # the FROM image (unexpanded)
    name: str | None
    index: int
    from_: Instruction
    body: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    file: str
    escape: str
    global_args: list[Instruction]
    stages: list[Stage]

    def error(self, ins: Instruction, message: str) -> DockerfileError:
        return DockerfileError(self.file, ins.line, message)

    def stage(self, ref: str) -> Stage | None:
        """A stage by name (case-insensitive) or number."""
        for s in self.stages:
            if s.name and s.name == ref.lower():
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def json_array(args: str) -> list[str] | None:
    text = args.strip()
    if not text.startswith("["):
        return None
    try:
        v = json.loads(text)
    except ValueError:
        return None
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    return None


def _logical_lines(text: str, file: str) -> tuple[str, list[tuple[int, str]]]:
    """(escape character, [(line number, joined logical line)])."""
    lines = text.splitlines()
    escape = "\\"
    i = 0
    seen: set[str] = set()
    while i < len(lines):                          # parser directives, top of file only
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() in seen:
            break
        key = m.group(1).lower()
        seen.add(key)
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise DockerfileError(file, i + 1, f"invalid escape token {m.group(2)!r} "
                                      "does not validate (use \\ or `)")
            escape = m.group(2)
        i += 1
    out: list[tuple[int, str]] = []
    cur: list[str] = []
    start = 0
    for n in range(i, len(lines)):
        raw = lines[n]
        stripped = raw.strip()
        if not cur and (not stripped or stripped.startswith("#")):
            continue
        if cur and (stripped.startswith("#") or not stripped):
            continue                # comments and blank lines inside a continuation
        if not cur:
            start = n + 1
        body = raw.rstrip()
        if body.endswith(escape):
            cur.append(body[:-1])
            continue
        cur.append(raw if cur else raw.lstrip())
        out.append((start, "".join(cur).strip()))
        cur = []
    if cur:
        out.append((start, "".join(cur).strip()))
    return escape, out


def _flags(words: str, cmd: str, file: str, line: int) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = words
    while True:
        head, _, tail = rest.partition(" ") if " " in rest else (rest, "", "")
        m = _FLAG.match(head)
        if not m:
            return flags, rest
        name = m.group(1)
        if name not in FLAGS.get(cmd, ()):
            hint = " (it needs BuildKit, which fabric does not implement)" \
                if name in ("mount", "chmod", "link", "network", "security") else ""
            raise DockerfileError(file, line, f"Unknown flag: {name}{hint}")
        if m.group(2) is None:
            raise DockerfileError(file, line, f"flag --{name} needs a value (--{name}=VALUE)")
        flags[name] = m.group(2)
        rest = tail.lstrip()


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    escape, lines = _logical_lines(text, file)
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for line, content in lines:
        word, _, rest = content.partition(" ") if " " in content else \
            content.partition("\t")
        cmd = word.upper()
        if cmd not in INSTRUCTIONS:
            raise DockerfileError(file, line, f"unknown instruction: {word}")
        rest = rest.strip()
        flags, args = _flags(rest, cmd, file, line)
        ins = Instruction(cmd, args, line, f"{cmd} {rest}".strip(), flags)
        if not args.strip():
            raise DockerfileError(file, line, f"{cmd} requires at least one argument")
        if cmd == "FROM":
            stages.append(_stage(ins, len(stages), file))
        elif not stages:
            if cmd != "ARG":
                raise DockerfileError(file, line, "the first instruction must be FROM "
                                      f"(only ARG may come before it), not {cmd}")
            global_args.append(ins)
        else:
            stages[-1].body.append(ins)
    if not stages:
        raise DockerfileError(file, max(1, len(text.splitlines())),
                              "the Dockerfile has no FROM instruction")
    names = [s.name for s in stages if s.name]
    for s in stages:
        if s.name and names.count(s.name) > 1:
            raise DockerfileError(file, s.from_.line, f"duplicate stage name {s.name!r}")
    return Dockerfile(file, escape, global_args, stages)


_STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")


def _stage(ins: Instruction, index: int, file: str) -> Stage:
    words = ins.args.split()
    name = None
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(file, ins.line, f"invalid name for build stage: {words[2]!r},"
                                  " name can't start with a number or contain symbols")
    elif len(words) != 1:
        raise DockerfileError(file, ins.line, "FROM takes an image and an optional "
                              "`AS name`: FROM image[:tag] [AS name]")
    return Stage(words[0], name, index, ins)
