"""Registry routes, as Docker's: `POST /images/create?fromImage=` (pull),
`POST /images/{name}/push`, `POST /auth` (login)."""


from fabric.daemon.http import Response
from fabric.daemon.json_stream import JsonStream
from fabric.images.reference import is_digest
from fabric.images.registry_access import Credentials, credentials_from_header


def auth_of(req) -> Credentials:
    return credentials_from_header(req.header("X-Registry-Auth"))


def pull(req, images) -> None:
    """The pull half of `POST /images/create?fromImage=` (routes_images serves the
    import half, `fromSrc`): Docker's JSON progress stream."""
    from fabric.images.pull import pull as pull_image
    tag = req.query.get("tag", "")
    ref = req.query["fromImage"] + (("@" if is_digest(tag) else ":") + tag if tag else "")
    JsonStream(req).run(lambda emit: pull_image(images, ref, auth_of(req), emit,
                                                req.query.get("platform")))


def add(r, engine) -> None:
    images = engine.images

    @r.route("POST", "/images/{name:path}/push")
    def image_push(req):
        from fabric.images.push import push
        name = req.params["name"]
        JsonStream(req).run(lambda emit: push(images, name, req.query.get("tag", ""),
                                              auth_of(req), emit))
        return None

    @r.route("POST", "/auth")
    def auth(req):
        from fabric.images.login import check
        body = req.json() or {}
        creds = Credentials(str(body.get("username") or ""), str(body.get("password") or ""))
        return Response(200, check(images, str(body.get("serveraddress") or ""), creds))
