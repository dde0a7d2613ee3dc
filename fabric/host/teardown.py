"""Remove everything a host root and its namespaces hold, found by pidfiles and tags.

It works from what is on disk and in the kernel, not from the daemon, so it also
clears up after a crash or a `kill -9` of the daemon. In order:

1. mark the root as being removed, so nothing (conmon's exit hook above all) starts
   its daemon again behind our back;
2. kill, until none is left: the daemon (its pidfile, checked), each container's conmon
   and init (their pidfiles, checked), every process living in the host's namespace
   or a container's (by namespace identity), and every process whose command line
   names the root (exit hooks under way, wherever they run);
3. `runc delete -f` each container runc knows under the root (its state, its cgroup);
4. unmount everything mounted under the root, deepest first;
5. remove the containers' namespaces and the host's (interfaces, routes and nftables
   tables inside them go with them);
6. remove the root's files, the host record last, so a host that could not be removed
   whole stays listed.

Idempotent: what is already gone is success. Failures are collected and reported
together at the end, after every step had its go.
"""

import ctypes
import os

from fabric import procs
from fabric.errors import FabricError
from fabric.fsutil import rmtree
from fabric.host import daemon
from fabric.net import netns as netnsmod
from fabric.paths import HostRoot
from fabric.runtime import sandbox
from fabric.runtime.runc import Runc

MNT_DETACH = 2
ROUNDS = 5
_libc = ctypes.CDLL(None, use_errno=True)


def teardown(root: HostRoot, netns: str | None) -> None:
    errors: list[str] = []
    if os.path.isdir(root.path):
        try:
            with open(root.removing, "w"):
                pass
        except OSError as e:
            errors.append(f"mark {root.removing}: {e.strerror}")
    ids = container_ids(root)
    namespaces = [sandbox.netns_name(cid) for cid in ids] + ([netns] if netns else [])
    left = _kill_everything(root, ids, namespaces)
    if left:
        errors.append(f"processes {sorted(left)} did not die")
    runc = Runc(root.runc_root)
    for cid in _listdir(root.runc_root):
        try:
            runc.delete(cid, force=True)
        except Exception as e:  # noqa: BLE001 - collected, the next steps still run
            errors.append(f"runc delete {cid}: {e}")
    errors += unmount_under(root.path)
    for ns in namespaces:
        try:
            netnsmod.remove(ns)
        except FabricError as e:
            errors.append(e.message)
    errors += _remove_files(root)
    if errors:
        raise FabricError(f"could not remove all of {root.path}: {'; '.join(errors)}")


def container_ids(root: HostRoot) -> list[str]:
    """Containers the root has a directory or runc state for."""
    return sorted(set(_listdir(root.containers)) | set(_listdir(root.runc_root)))


def _listdir(d: str) -> list[str]:
    try:
        return os.listdir(d)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _kill_everything(root: HostRoot, ids: list[str], namespaces: list[str]) -> list[int]:
    """Kill the root's processes round after round, since a dying one may have started
    another (an exit hook waking a daemon); the pids that outlived the last round."""
    left: list[int] = []
    for _ in range(ROUNDS):
        victims = set(procs.in_namespaces(
            i for i in (netnsmod.identity(ns) for ns in namespaces) if i is not None))
        # an exit hook that conmon started just before it died lives on for a moment,
        # whichever namespace it is in: it names the root
        victims.update(procs.naming(root.path))
        d = daemon.pid(root)
        if d:
            victims.add(d)
        for cid in ids:
            for name in ("conmon.pid", "pidfile"):
                p = procs.read_pid(os.path.join(root.container_dir(cid), name))
                if p and procs.alive(p) and procs.belongs_to(p, root.path):
                    victims.add(p)
        if not victims:
            return []
        left = procs.kill(victims)
    return left


def mounts_under(path: str) -> list[str]:
    """Mount points strictly under `path`, in mount order."""
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        points = [_unescape(line.split()[1]) for line in f]
    return [p for p in points if p.startswith(prefix)]


def _unescape(field: str) -> str:
    # /proc/self/mounts writes space, tab, newline and backslash as octal escapes
    for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(esc, ch)
    return field


def unmount_under(path: str) -> list[str]:
    """Unmount everything under path, the latest (deepest, stacked) first."""
    errors: dict[str, str] = {}
    for _ in range(ROUNDS):
        points = mounts_under(path)
        if not points:
            return []
        for p in reversed(points):
            if _libc.umount2(p.encode(), MNT_DETACH) != 0:
                errors[p] = os.strerror(ctypes.get_errno())
    return [f"umount {p}: {e}" for p, e in errors.items() if p in mounts_under(path)]


def _remove_files(root: HostRoot) -> list[str]:
    errors: list[str] = []

    def failed(p: str, e: OSError) -> None:
        errors.append(f"remove {p}: {e.strerror or e}")

    for name in _listdir(root.path):
        p = os.path.join(root.path, name)
        if p in (root.host_file, root.removing):
            continue
        if os.path.isdir(p) and not os.path.islink(p):
            rmtree(p, onerror=failed)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            except OSError as e:
                errors.append(f"remove {p}: {e.strerror}")
    if errors:
        return errors  # the record stays, so the host stays listed and can be retried
    for p in (root.host_file, root.removing):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(root.path)
    except FileNotFoundError:
        pass
    except OSError as e:
        errors.append(f"remove {root.path}: {e.strerror}")
    return errors
