"""`build:` of a lab container: resolved from the file (the context relative to the
lab file), checked when the lab comes up (the Dockerfile read and parsed, so that a
syntax error is one line before anything is made), and run on a host's daemon as
`fabric build` runs it."""

import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

from fabric.builder import context_tar
from fabric.builder.dockerfile import Dockerfile, parse
from fabric.client.http import Client
from fabric.errors import FabricError, InvalidArgument
from fabric.images.store import valid_ref
from fabric.lab import model
from fabric.lab.source import Path, Source


def resolve(src: Source, raw: Any, where: Path) -> model.Build | None:
    """The build's paths, relative to the lab file; what is there is checked by `check`
    when the lab comes up (a lab is also read back from the copy kept of its file)."""
    if raw is None:
        return None
    spec: dict[str, Any] = {"context": raw} if isinstance(raw, str) else raw
    base = os.path.dirname(os.path.abspath(src.path))
    context = os.path.normpath(os.path.join(base, spec["context"]))
    args = tuple(sorted((str(k), _text(v)) for k, v in (spec.get("args") or {}).items()))
    return model.Build(context, spec.get("dockerfile"), args, spec.get("target") or "")


def dockerfile_of(b: model.Build) -> str:
    return os.path.join(b.context, b.dockerfile or "Dockerfile")


def check(b: model.Build) -> Dockerfile:
    """The context is there and its Dockerfile parses (else one line saying where)."""
    if not os.path.isdir(b.context):
        raise InvalidArgument(f"no directory {b.context} to build from")
    path = dockerfile_of(b)
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f.read(), path)
    except OSError as e:
        raise InvalidArgument(f"cannot read {path}: {e.strerror}") from None


def default_tag(src: Source, lab: str, container: str, where: Path) -> str:
    """What a build is called when the container names no `image` (compose's
    PROJECT_SERVICE)."""
    tag = f"{lab}_{container}".lower()
    if not valid_ref(tag):
        raise src.error(where, f"'{tag}' is not a valid image name: give the container an "
                        "`image:` to name what it builds")
    return tag


def run(client: Client, b: model.Build, tag: str, say: Callable[[str], None]) -> None:
    """Build on the daemon `client` reaches, as `fabric build -t TAG` would; each step
    told to `say`. A failure (a RUN step's, say) raises with the daemon's message."""
    from fabric.client.jsonstream import messages
    with tempfile.TemporaryFile() as body:
        df_name = context_tar.write(b.context, dockerfile_of(b) if b.dockerfile else None,
                                    body)
        body.seek(0)
        query = {"t": tag, "dockerfile": df_name, "target": b.target or None,
                 "buildargs": json.dumps(dict(b.args)) if b.args else None}
        for msg in messages(client.request("POST", "/build", query, upload=body)):
            if msg.get("error") or msg.get("errorDetail"):
                detail = msg.get("errorDetail") or {}
                raise FabricError(detail.get("message") or msg.get("error") or "failed")
            line = (msg.get("stream") or "").strip()
            if line.startswith("Step "):
                say(line)


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)
