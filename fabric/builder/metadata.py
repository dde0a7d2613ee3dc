"""The instructions that only change the image's config (no layer): ENV, LABEL, EXPOSE,
VOLUME, USER, WORKDIR, CMD, ENTRYPOINT, STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD,
MAINTAINER, ARG.

Each returns the text of its history line as Docker's classic builder writes it
(`/bin/sh -c #(nop)  CMD ["sh"]`, Go's %q formatting included), which is also the
step's cache key beside its parent image.
"""

from __future__ import annotations

import json
import posixpath
import signal

from fabric import durations
from fabric.builder import words
from fabric.builder.dockerfile import Instruction, json_array
from fabric.errors import InvalidArgument

DEFAULT_SHELL = ["/bin/sh", "-c"]
CONFIG_ONLY = ("ENV", "LABEL", "ARG", "EXPOSE", "VOLUME", "USER", "WORKDIR", "CMD",
               "ENTRYPOINT", "STOPSIGNAL", "SHELL", "MAINTAINER", "ONBUILD", "HEALTHCHECK")


def go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def go_list(items: list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(x) for x in items) + "]"


def parse_duration(text: str, flag: str) -> int:
    try:
        return durations.parse(text)
    except ValueError:
        raise InvalidArgument(f"invalid duration {text!r} for --{flag} (e.g. 30s, 1m30s)") \
            from None


class Meta:
    """A stage's config as the instructions change it, with the variables in scope."""

    def __init__(self, config: dict, escape: str, build_args: dict[str, str]):
        self.config = config                      # the image config's "config" object
        self.escape = escape
        self.build_args = build_args              # --build-arg values
        self.args: dict[str, str | None] = {}     # ARGs declared in this stage
        self.used_args: set[str] = set()
        self.author = ""

    # ---- variables ----------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """What $VAR sees: declared ARGs, then the image's ENV over them."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for e in self.config.get("Env") or []:
            k, _, v = e.partition("=")
            out[k] = v
        return out

    def run_args(self) -> list[str]:
        """`K=V` of the ARGs a RUN sees (not kept in the image), ENV names excepted."""
        env_keys = {e.split("=", 1)[0] for e in self.config.get("Env") or []}
        return [f"{k}={v}" for k, v in sorted(self.args.items())
                if v is not None and k not in env_keys]

    def expand(self, text: str) -> list[str]:
        return words.process_all(text, self.env(), self.escape)

    def expand_one(self, text: str) -> str:
        return words.process(text.strip(), self.env(), self.escape)

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def nop(self, text: str, two_spaces: bool = True) -> str:
        """The history line of a config-only step."""
        return " ".join(self.shell) + (" #(nop)  " if two_spaces else " #(nop) ") + text

    def command(self, ins: Instruction) -> list[str]:
        """CMD/ENTRYPOINT/RUN arguments: exec form as given, shell form through SHELL."""
        form = ins.exec_form()
        return form if form is not None else self.shell + [ins.args]

    # ---- instructions --------------------------------------------------------------
    def apply(self, ins: Instruction) -> str:
        handlers = {"ENV": self.do_env, "LABEL": self.do_label, "ARG": self.do_arg,
                    "EXPOSE": self.do_expose, "VOLUME": self.do_volume, "USER": self.do_user,
                    "WORKDIR": self.do_workdir, "CMD": self.do_cmd,
                    "ENTRYPOINT": self.do_entrypoint, "STOPSIGNAL": self.do_stopsignal,
                    "SHELL": self.do_shell, "MAINTAINER": self.do_maintainer,
                    "ONBUILD": self.do_onbuild, "HEALTHCHECK": self.do_healthcheck}
        return handlers[ins.cmd](ins)

    @staticmethod
    def handles(cmd: str) -> bool:
        return cmd in CONFIG_ONLY

    def do_env(self, ins: Instruction) -> str:
        env = list(self.config.get("Env") or [])
        text = "ENV"
        for k, v in words.pairs(ins.args, self.env(), self.escape, "ENV"):
            env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            text += f" {k}={v}"
        self.config["Env"] = env
        return self.nop(text)

    def do_label(self, ins: Instruction) -> str:
        labels = dict(self.config.get("Labels") or {})
        text = "LABEL"
        for k, v in words.pairs(ins.args, self.env(), self.escape, "LABEL"):
            labels[k] = v
            text += f" {k}={v}"
        self.config["Labels"] = labels
        return self.nop(text)

    def do_arg(self, ins: Instruction) -> str:
        raw = words.split(ins.args, self.escape)
        text = "ARG"
        for w in raw:
            k, eq, v = w.partition("=")
            default = words.process(v, self.env(), self.escape) if eq else None
            value = self.build_args.get(k, default)
            if k in self.build_args:
                self.used_args.add(k)
            self.args[k] = value
            text += f" {k}" + (f"={default}" if default is not None else "")
        return self.nop(text)

    def do_expose(self, ins: Instruction) -> str:
        ports = dict(self.config.get("ExposedPorts") or {})
        given = self.expand(ins.args)
        for p in given:
            num, _, proto = p.partition("/")
            lo, _, hi = num.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()) or \
                    proto not in ("", "tcp", "udp", "sctp"):
                raise InvalidArgument(f"invalid containerPort: {p}")
            for n in range(int(lo), int(hi or lo) + 1):
                ports[f"{n}/{proto or 'tcp'}"] = {}
        self.config["ExposedPorts"] = ports
        return self.nop("EXPOSE " + " ".join(given))

    def do_volume(self, ins: Instruction) -> str:
        form = json_array(ins.args)
        paths = [self.expand_one(p) for p in form] if form is not None \
            else self.expand(ins.args)
        if not paths or any(not p.strip() for p in paths):
            raise InvalidArgument("VOLUME specified can not be an empty string")
        vols = dict(self.config.get("Volumes") or {})
        for p in paths:
            vols[p] = {}
        self.config["Volumes"] = vols
        return self.nop(f"VOLUME [{' '.join(paths)}]")

    def do_user(self, ins: Instruction) -> str:
        self.config["User"] = self.expand_one(ins.args)
        return self.nop(f"USER {self.config['User']}")

    def do_workdir(self, ins: Instruction) -> str:
        path = self.expand_one(ins.args)
        base = self.config.get("WorkingDir") or "/"
        self.config["WorkingDir"] = posixpath.normpath(posixpath.join(base, path))
        return self.nop(f"WORKDIR {self.config['WorkingDir']}", two_spaces=False)

    def do_cmd(self, ins: Instruction) -> str:
        self.config["Cmd"] = self.command(ins)
        return self.nop(f"CMD {go_list(self.config['Cmd'])}")

    def do_entrypoint(self, ins: Instruction) -> str:
        self.config["Entrypoint"] = self.command(ins)
        # As Docker: an ENTRYPOINT drops a CMD inherited from the base image.
        self.config["Cmd"] = None
        return self.nop(f"ENTRYPOINT {go_list(self.config['Entrypoint'])}")

    def do_stopsignal(self, ins: Instruction) -> str:
        sig = self.expand_one(ins.args)
        name = sig.upper() if sig.upper().startswith("SIG") else "SIG" + sig.upper()
        if not (sig.isdigit() or name in signal.Signals.__members__):
            raise InvalidArgument(f"Invalid signal: {sig}")
        self.config["StopSignal"] = sig
        return self.nop(f"STOPSIGNAL {sig}")

    def do_shell(self, ins: Instruction) -> str:
        form = ins.exec_form()
        if not form:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form, e.g. "
                                  'SHELL ["/bin/sh", "-c"]')
        self.config["Shell"] = form
        return self.nop(f"SHELL {go_list(form)}")

    def do_maintainer(self, ins: Instruction) -> str:
        self.author = self.expand_one(ins.args)
        return self.nop(f"MAINTAINER {self.author}")

    def do_onbuild(self, ins: Instruction) -> str:
        first = ins.args.split(None, 1)[0].upper()
        if first in ("ONBUILD", "FROM", "MAINTAINER"):
            raise InvalidArgument(f"{first} isn't allowed as an ONBUILD trigger")
        self.config["OnBuild"] = list(self.config.get("OnBuild") or []) + [ins.args.strip()]
        return self.nop(f"ONBUILD {ins.args.strip()}")

    def do_healthcheck(self, ins: Instruction) -> str:
        kind, _, rest = ins.args.strip().partition(" ")
        if kind.upper() == "NONE":
            if rest.strip() or ins.flags:
                raise InvalidArgument("HEALTHCHECK NONE takes no other arguments")
            hc: dict = {"Test": ["NONE"]}
        elif kind.upper() == "CMD" and rest.strip():
            form = json_array(rest)
            test = ["CMD", *form] if form is not None else ["CMD-SHELL", rest.strip()]
            hc = {"Test": test}
            for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                              ("start-period", "StartPeriod")):
                if flag in ins.flags:
                    hc[key] = parse_duration(ins.flags[flag], flag)
            if "retries" in ins.flags:
                if not ins.flags["retries"].isdigit():
                    raise InvalidArgument(f"--retries must be a number, not "
                                          f"{ins.flags['retries']!r}")
                hc["Retries"] = int(ins.flags["retries"])
        else:
            raise InvalidArgument("HEALTHCHECK takes CMD <command> or NONE")
        self.config["Healthcheck"] = hc
        n = hc.get("Retries", 0)
        retries = f"'\\x{n:02x}'" if n < 0x20 or n == 0x7f else repr(chr(n))
        spans = [go_quote(durations.text(hc.get(k, 0)))
                 for k in ("Interval", "Timeout", "StartPeriod")]
        return self.nop(f"HEALTHCHECK &{{{' '.join([go_list(hc['Test']), *spans, retries])}}}")
