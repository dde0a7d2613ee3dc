"""Dockerfile instructions given as `-c/--change` to import and commit.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME
and WORKDIR here; the same set is honoured, and anything else is refused rather than
silently ignored.
"""

import json
import shlex

from fabric.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def split(values) -> list[str]:
    """Changes arrive as repeated query parameters or newline-joined in one."""
    out = []
    for v in values or []:
        out += [line.strip() for line in str(v).split("\n") if line.strip()]
    return out


def _exec_form(arg: str) -> list[str]:
    if arg.startswith("["):
        try:
            v = json.loads(arg)
        except ValueError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
    return ["/bin/sh", "-c", arg]


def _pairs(kw: str, arg: str) -> dict[str, str]:
    words = shlex.split(arg)
    if len(words) == 2 and "=" not in words[0]:
        return {words[0]: words[1]}      # the legacy `ENV key value` form
    out = {}
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"invalid change {kw} {arg!r}: use KEY=VALUE")
        out[k] = v
    return out


def apply(config: dict, changes: list[str]) -> dict:
    """Return a copy of an image's `config` section with the changes applied."""
    cfg = dict(config or {})
    for line in changes:
        kw, _, arg = line.partition(" ")
        kw, arg = kw.upper(), arg.strip()
        if kw not in ALLOWED:
            raise InvalidArgument(f"{kw} is not a valid change command (use one of "
                                  f"{', '.join(ALLOWED)})")
        if not arg:
            raise InvalidArgument(f"change {kw} needs an argument")
        if kw == "CMD":
            cfg["Cmd"] = _exec_form(arg)
        elif kw == "ENTRYPOINT":
            cfg["Entrypoint"] = _exec_form(arg)
        elif kw == "ENV":
            env = [e for e in cfg.get("Env") or []]
            for k, v in _pairs(kw, arg).items():
                env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            cfg["Env"] = env
        elif kw == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            labels.update(_pairs(kw, arg))
            cfg["Labels"] = labels
        elif kw == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in arg.split():
                num, _, proto = p.partition("/")
                if not num.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
                    raise InvalidArgument(f"invalid port in EXPOSE {arg!r}: {p!r}")
                ports[f"{num}/{proto or 'tcp'}"] = {}
            cfg["ExposedPorts"] = ports
        elif kw == "VOLUME":
            vols = dict(cfg.get("Volumes") or {})
            paths = _exec_form(arg) if arg.startswith("[") else arg.split()
            if paths[:2] == ["/bin/sh", "-c"]:
                paths = arg.split()
            for p in paths:
                vols[p] = {}
            cfg["Volumes"] = vols
        elif kw == "USER":
            cfg["User"] = arg
        elif kw == "WORKDIR":
            cfg["WorkingDir"] = arg
        elif kw == "STOPSIGNAL":
            cfg["StopSignal"] = arg
        elif kw == "ONBUILD":
            cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [arg]
    return cfg
