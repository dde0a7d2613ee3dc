"""Registry routes, as Docker's: `POST /images/create?fromImage=` (pull),
`POST /images/{name}/push`, `POST /auth` (login)."""

import re

from fabric.daemon.http import Response
from fabric.daemon.json_stream import JsonStream
from fabric.images.reference import is_digest
from fabric.images.registry_access import Credentials, credentials_from_header


def auth_of(req) -> Credentials:
    return credentials_from_header(req.header("X-Registry-Auth"))


def _override(r, method: str, path: str, fn) -> None:
    """Put fn(req, previous) in place of the route already serving method+path (the
    import half of /images/create stays where it is)."""
    for i, (m, rx, previous) in enumerate(r.routes):
        if m == method and rx.match(path):
            r.routes[i] = (m, rx, lambda req, previous=previous: fn(req, previous))
            return
    r.add(method, path, lambda req: fn(req, None))


def add(r, engine) -> None:
    images = engine.images

    def image_create(req, previous):
        from fabric.images.pull import pull
        src = req.query.get("fromImage")
        if not src and previous is not None:
            return previous(req)
        tag = req.query.get("tag", "")
        ref = src + (("@" if is_digest(tag) else ":") + tag if tag else "")
        JsonStream(req).run(lambda emit: pull(images, ref, auth_of(req), emit,
                                              req.query.get("platform")))
        return None
    _override(r, "POST", "/images/create", image_create)

    push_rx = re.compile(r"^/images/(?P<name>.+)/push$")

    def image_push(req):
        from fabric.images.push import push
        name = req.params["name"]
        JsonStream(req).run(lambda emit: push(images, name, req.query.get("tag", ""),
                                              auth_of(req), emit))
        return None
    r.routes.append(("POST", push_rx, image_push))

    @r.route("POST", "/auth")
    def auth(req):
        from fabric.images.login import check
        body = req.json() or {}
        creds = Credentials(str(body.get("username") or ""), str(body.get("password") or ""))
        return Response(200, check(images, str(body.get("serveraddress") or ""), creds))
