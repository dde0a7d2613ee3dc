"""A lab's images, each on the disk once however many hosts run it.

The lab keeps an image store of its own, `<lab dir>/images` (a host root's image half:
SQLite, config blobs, layers by diff_id). Before anything is made, `lab up` gathers
there what the lab names: the built-in busybox made once, other images pulled from
their registries with each layer's progress (and the bases of the lab's own builds).
An image that cannot be had is then one line naming the lab file, the line and the
field, and nothing is left.

Once the hosts are up, each host's daemon takes the images its containers need from
the lab's store (`POST /fabric/images/adopt`), which hard-links their layers into the
host's own store instead of copying or extracting them (fabric.images.sharing). An
image the lab builds (`build:`) is built by the first host that needs it; the others
take it from that host's root the same way. A host's own image removal unlinks only its
own names; `lab down` removes the lab's store with the lab's directory, and with it the
last names of the shared layers.

Rejected: a registry started for the lab. Each host would still extract its own copy
of every layer, which is what costs the disk.
"""

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fabric.errors import FabricError, NotFound
from fabric.host import registry
from fabric.images import save
from fabric.images.store import BUILTIN, ImageStore, normalize_ref
from fabric.lab import builds, live, model, naming, source, state
from fabric.lab.errors import LabError
from fabric.paths import HostRoot
from fabric.store.db import Store

Say = Callable[[str, str], None]


def store_of(st: state.State) -> ImageStore:
    root = HostRoot(os.path.join(st.dir, "images"))
    root.ensure()
    return ImageStore(root, Store(root.db))


def fetch(lab: model.Lab, st: state.State, say: Say) -> None:
    """Everything the lab's containers and builds start from, into the lab's store."""
    for c in lab.containers:
        if c.build is not None:
            try:
                builds.check(c.build)
            except FabricError as e:
                raise _error(lab, ("containers", c.name, "build"), e.message) from None
    wanted = _wanted(lab)
    if not wanted:
        return
    images = store_of(st)
    for ref, where in wanted.items():
        if normalize_ref(ref) == BUILTIN:
            say("image busybox", "making it from busybox-static")
            images.ensure_builtin()
            continue
        try:
            images.resolve(ref)
            continue
        except NotFound:
            pass
        say(f"image {ref}", "pulling")
        try:
            _pull(images, ref, say)
        except FabricError as e:
            raise _error(lab, where, f"cannot get image '{ref}': {e.message}") from None
        say(f"image {ref}", "pulled")


def distribute(lab: model.Lab, st: state.State, say: Say) -> None:
    """Each host gets what its containers need: from the lab's store, or from the host
    that built it."""
    images = store_of(st)
    own = {ref for ref, _ in _wanted(lab).items()}
    plan: dict[str, list[str]] = {h.name: [] for h in lab.hosts}
    builders: dict[model.Build, tuple[str, str]] = {}       # build -> (its host, its tag)
    for c in lab.containers:
        if c.build is not None and c.build not in builders:
            builders[c.build] = (c.host, c.image)
            plan[c.host] += [b for b in _bases(c.build) if b not in plan[c.host]]
        if c.image in own and c.image not in plan[c.host]:
            plan[c.host].append(c.image)
    _each(lab, plan, lambda host, ref: _give(lab, host, images, ref, say))
    made: dict[str, tuple[str, str]] = {}                   # tag -> (host, image id)
    for b, (host, tag) in builders.items():
        say(f"image {tag}", f"building on {host}")
        client = live.client(lab.name, host)
        try:
            builds.run(client, b, tag, _told(say, f"image {tag}"))
        except FabricError as e:
            raise FabricError(f"building image {tag} on host {host}: {e.message}") from None
        made[tag] = (host, client.get(f"/images/{tag}/json")["Id"])
        say(f"image {tag}", f"built on {host}")
    later = {h.name: [c.image for c in lab.containers_on(h.name)
                      if c.image in made and made[c.image][0] != h.name] for h in lab.hosts}
    _each(lab, {h: list(dict.fromkeys(refs)) for h, refs in later.items()},
          lambda host, ref: _pass_on(lab, made[ref][0], host, made[ref][1], ref, say))


def _told(say: Say, subject: str) -> Callable[[str], None]:
    return lambda line: say(subject, line)


def _wanted(lab: model.Lab) -> dict[str, tuple]:
    """The images to gather, each with the field that names it (for errors)."""
    built = {c.image for c in lab.containers if c.build is not None}
    out: dict[str, tuple] = {}
    for c in lab.containers:
        if c.build is not None:
            for base in _bases(c.build):
                out.setdefault(base, ("containers", c.name, "build"))
        elif c.image not in built:
            out.setdefault(c.image, ("containers", c.name, "image"))
    return out


def _bases(b: model.Build) -> list[str]:
    """The images a Dockerfile starts from, when they are plain names (not an earlier
    stage, not `scratch`, no build argument in them)."""
    df = builds.check(b)
    stages: set[str] = set()
    out = []
    for s in df.stages:
        if s.base.lower() not in stages and s.base != "scratch" and "$" not in s.base:
            out.append(s.base)
        if s.name:
            stages.add(s.name)
    return out


def _pull(images: ImageStore, ref: str, say: Say) -> None:
    from fabric.client import credentials
    from fabric.images.pull import pull
    from fabric.images.registry_access import credentials_from_header

    def emit(msg: dict) -> None:
        ident = msg.get("id")
        text = f"{msg.get('status', '')} {msg.get('progress') or ''}".strip()
        say(f"image {ref}" + (f" {ident}" if ident else ""), text)
    auth = credentials.header(credentials.registry_of(ref)).get("X-Registry-Auth")
    pull(images, ref, credentials_from_header(auth), emit)


def _remote(lab: model.Lab, host: str) -> bool:
    h = lab.host(host)
    return h is not None and h.remote is not None


def _give(lab: model.Lab, host: str, images: ImageStore, ref: str, say: Say) -> None:
    """An image from the lab's store: hard-linked by a host on this machine, sent as a
    `docker save` archive to a remote one (it shares no file system with us)."""
    if not _remote(lab, host):
        _adopt(lab.name, host, images.root, images.resolve(ref), ref, say)
        return
    with tempfile.TemporaryFile(dir=images.root.tmp) as archive:
        save.write(images, save.plan(images, [ref]), archive)
        _load(lab.name, host, archive, ref, say)


def _pass_on(lab: model.Lab, source: str, host: str, image_id: str, ref: str,
             say: Say) -> None:
    """An image one host built, to another: by hard links when both are on this
    machine, else through `docker save` on the one and `docker load` on the other."""
    if not _remote(lab, source) and not _remote(lab, host):
        _adopt(lab.name, host, _root_of(lab.name, source), image_id, ref, say)
        return
    with tempfile.TemporaryFile() as archive:
        r = live.client(lab.name, source).request("GET", f"/images/{ref}/get")
        r.raise_for_status()
        for chunk in r.chunks():
            archive.write(chunk)
        _load(lab.name, host, archive, ref, say)


def _load(lab: str, host: str, archive, ref: str, say: Say) -> None:
    archive.seek(0)
    r = live.client(lab, host).request("POST", "/images/load", query={"quiet": "1"},
                                       upload=archive,
                                       headers={"Content-Type": "application/x-tar"})
    r.raise_for_status()
    r.read()
    say(host, f"has {ref} (sent)")


def _adopt(lab: str, host: str, root: HostRoot, image_id: str, ref: str, say: Say) -> None:
    live.client(lab, host).call("POST", "/fabric/images/adopt", None,
                                {"Root": root.path, "Image": image_id, "Refs": [ref]})
    say(host, f"has {ref}")


def _each(lab: model.Lab, plan: dict[str, list[str]], fn: Callable[[str, str], None]) -> None:
    """fn(host, ref) for every planned pair, hosts side by side."""
    def one(host: str) -> None:
        for ref in plan[host]:
            fn(host, ref)
    todo = [h for h, refs in plan.items() if refs]
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(todo))) as ex:
        for f in [ex.submit(one, h) for h in todo]:
            f.result()


def _root_of(lab: str, host: str) -> HostRoot:
    return registry.root_of(naming.host_ref(lab, host))


def _error(lab: model.Lab, where: tuple, problem: str) -> LabError:
    """One line naming the lab file, the line and the field (the file is read again for
    the line: the resolved lab keeps none)."""
    return source.read(lab.file).error(where, problem)
