"""`lab down`: remove every host, namespace and file a lab made, from what lab.json
recorded and what the host registry says belongs to the lab; also after a crash half
way or a host removed or killed by hand.

Hosts go first, in parallel, through the host module's own teardown (processes by
pidfile and namespace identity, mounts, runc state, namespaces, files); a host's NICs
go with its namespace, taking their segment ports along. On a host on another machine
only what the lab made through its daemon goes (remote.py), then its record here.
Then the segments' namespaces, whatever still runs in them; then the lab's directory.
Errors are collected, every step has its go, and they are reported together.
"""

from concurrent.futures import ThreadPoolExecutor

from fabric.errors import FabricError, NotFound
from fabric.host import bare, hosts, registry
from fabric.lab import remote, state
from fabric.lab.progress import quiet


def remove(name: str, st: state.State | None, say=quiet) -> bool:
    """Remove lab `name`; False when nothing of it was left. Call with its lock held."""
    host_refs = sorted(set(st.made("host") if st else []) |
                       {r.name for r in registry.records() if r.lab == name})
    # the lab's etcd goes with its namespace, like a segment's bridge (clusterstore.py)
    segments = (st.made("segment") + st.made("etcd")) if st else []
    rules = [r.split(" ", 1) for r in (st.made("rule") if st else [])]
    if st is None and not host_refs:
        return False
    if st is not None and st.state != "failed":
        st.set(state="removing")
    errors: list[str] = []

    def one(ref: str) -> None:
        host = ref.split(".", 1)[1]
        say(host, "removing")
        try:
            # a host on another machine: what the lab made there, then its record here
            remote.clean(ref, name, [i for r, i in rules if r == ref],
                         lambda text: say(host, text))
            hosts.remove(ref)
        except NotFound:
            pass
        except FabricError as e:
            errors.append(e.message)
            return
        say(ref.split(".", 1)[1], "removed")

    if host_refs:
        with ThreadPoolExecutor(max_workers=min(8, len(host_refs))) as ex:
            list(ex.map(one, host_refs))
    if segments:
        try:
            bare.remove(*segments)
        except FabricError as e:
            errors.append(e.message)
    if not errors and st is not None:
        try:
            st.remove_files()
        except FabricError as e:
            errors.append(e.message)
    if errors:
        raise FabricError(f"lab {name}: not everything could be removed: {'; '.join(errors)}")
    return True


def down(name: str, say=quiet) -> bool:
    """`lab down NAME`: False when the lab was not up (nothing of it left)."""
    if state.load(name) is None and not any(r.lab == name for r in registry.records()):
        _forget_empty(name)
        return False
    with state.locked(name):
        found = remove(name, state.load(name), say)
        if not found:
            _forget_empty(name)
        return found


def _forget_empty(name: str) -> None:
    """A lab directory holding no lab.json (only a lock) is nothing; remove it."""
    import os
    import shutil
    d = state.lab_dir(name)
    if os.path.isdir(d) and not os.path.exists(os.path.join(d, "lab.json")):
        shutil.rmtree(d, ignore_errors=True)
