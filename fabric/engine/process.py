"""Turn a container's config into the process runc starts: arguments, environment,
user and groups resolved against the container's own /etc/passwd and /etc/group."""

import os
from collections.abc import Sequence

from fabric.errors import InvalidArgument
from fabric.runtime.spec import ProcessSpec


def _read_db(rootfs: str, name: str) -> list[list[str]]:
    path = os.path.join(rootfs, "etc", name)
    # The file is inside the container's tree: refuse a symlink that points elsewhere.
    if os.path.islink(path):
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [ln.rstrip("\n").split(":") for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError:
        return []


def resolve_user(rootfs: str, spec: str) -> tuple[int, int, list[int], str]:
    """`-u name|uid[:group|gid]` -> (uid, gid, extra gids, home)."""
    user, _, group = (spec or "").partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    uid, gid, home, uname = 0, 0, "/", "root"
    if user:
        entry = next((p for p in passwd if len(p) >= 7 and (p[0] == user or p[2] == user)), None)
        if entry:
            uname, uid, gid, home = entry[0], int(entry[2]), int(entry[3]), entry[5] or "/"
        elif user.isdigit():
            uid, gid, uname = int(user), 0, ""
        else:
            raise InvalidArgument(f"unable to find user {user}: no matching entries in passwd "
                                  "file")
    else:
        root = next((p for p in passwd if len(p) >= 7 and p[2] == "0"), None)
        if root:
            home = root[5] or "/"
    if group:
        g = next((x for x in groups if len(x) >= 3 and (x[0] == group or x[2] == group)), None)
        if g:
            gid = int(g[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise InvalidArgument(f"unable to find group {group}: no matching entries in group "
                                  "file")
    extra = sorted({int(g[2]) for g in groups if len(g) >= 4 and uname and
                    uname in g[3].split(",") and int(g[2]) != gid})
    return uid, gid, extra, home


def build_env(config: dict, hostname: str, home: str) -> list[str]:
    env = list(config.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in env}
    if "HOSTNAME" not in keys:
        env.insert(0 if not env else 1, f"HOSTNAME={hostname}")
    if config.get("Tty") and "TERM" not in keys:
        env.append("TERM=xterm")
    if "HOME" not in keys:
        env.append(f"HOME={home}")
    return env


def build_process(config: dict, rootfs: str, hostname: str, caps: list[str],
                  extra_env: Sequence[str] = ()) -> ProcessSpec:
    uid, gid, extra, home = resolve_user(rootfs, config.get("User") or "")
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    env = build_env(config, hostname, home)
    keys = {e.split("=", 1)[0] for e in env}
    env += [e for e in extra_env if e.split("=", 1)[0] not in keys]
    return ProcessSpec(args=args, env=env, cwd=config.get("WorkingDir") or "/", uid=uid,
                       gid=gid, additional_gids=extra, terminal=bool(config.get("Tty")),
                       caps=caps)
