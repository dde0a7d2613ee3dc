"""`POST /build` as Docker's: the context tar as the body, the Dockerfile's path in it
(`dockerfile`), tags (`t`, repeated), `buildargs`, `labels`, `nocache`, `target`;
the answer a stream of `{"stream": ...}` lines, `{"aux": {"ID": ...}}` and errors."""

import json
import os
import posixpath

from fabric.daemon.json_stream import JsonStream
from fabric.daemon.params import read_body, repeated
from fabric.errors import InvalidArgument, NotFound
from fabric.images.registry_access import Credentials


def _json_map(req, name: str) -> dict[str, str]:
    raw = req.query.get(name)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"{name} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{name} must be a JSON object")
    # docker-py and the docker CLI send {"NAME": null} for --build-arg NAME unset
    return {str(k): str(v) for k, v in doc.items() if v is not None}


def _registry_config(req) -> dict[str, Credentials]:
    """Docker's X-Registry-Config: base64url JSON {registry: {username, password}}."""
    import base64
    raw = req.header("X-Registry-Config")
    if not raw:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        raise InvalidArgument("X-Registry-Config is not base64-encoded JSON") from None
    return {k: Credentials(str(v.get("username") or ""), str(v.get("password") or ""))
            for k, v in (doc or {}).items() if isinstance(v, dict)}


def add(r, engine) -> None:
    @r.route("POST", "/build")
    def build(req):
        from fabric.builder import builder, context, dockerfile
        from fabric.images.archive import Work
        from fabric.images.pull import pull
        from fabric.images.reference import parse
        name = posixpath.normpath(req.query.get("dockerfile") or "Dockerfile")
        if name.startswith("../") or name.startswith("/"):
            raise InvalidArgument(f"the Dockerfile ({name}) must be within the build context")
        auths = _registry_config(req)

        def pull_base(ref: str, emit) -> str:
            creds = auths.get(parse(ref).domain, Credentials())
            return pull(engine.images, ref, creds, emit)
        opts = builder.Options(tags=repeated(req, "t"), build_args=_json_map(req, "buildargs"),
                               no_cache=req.flag("nocache"), target=req.query.get("target", ""),
                               labels=_json_map(req, "labels"),
                               pull=pull_base)
        with Work(engine.root, "build") as w:
            ctx = w.path("context")
            read_body(req, lambda body: context.extract(body, ctx))
            path = os.path.join(ctx, name)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None
            df = dockerfile.parse(text, name)
            JsonStream(req).run(lambda emit: builder.Builder(engine, ctx, df, opts, emit,
                                                             w).run())
        return None
