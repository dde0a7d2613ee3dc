"""Resolve -v/--volume, --mount, --volumes-from and image VOLUMEs into the container's
Mounts (as `inspect` shows them) at create time, and into OCI bind mounts at start."""

import os
import posixpath
import shutil

from fabric.engine.volumes import VALID as VALID_VOLUME
from fabric.errors import InvalidArgument, NotFound
from fabric.runtime.spec import bind


def _mount(kind: str, source: str, dest: str, rw: bool, name: str = "", mode: str = "") -> dict:
    m = {"Type": kind, "Source": source, "Destination": dest, "Mode": mode, "RW": rw,
         "Propagation": "rprivate" if kind == "bind" else ""}
    if kind == "volume":
        m["Name"], m["Driver"] = name, "local"
    return m


def parse_bind(spec: str) -> tuple[str, str, bool, str]:
    """`host:ctr[:ro|rw]`, `name:ctr[:opts]` or `ctr` -> (source, dest, rw, mode)."""
    parts = spec.split(":")
    if len(parts) == 1:
        return "", parts[0], True, ""
    if len(parts) == 2:
        src, dest, mode = parts[0], parts[1], ""
    elif len(parts) == 3:
        src, dest, mode = parts
    else:
        raise InvalidArgument(f"invalid volume specification {spec!r}: use "
                              "HOST-PATH:CONTAINER-PATH[:ro] or NAME:CONTAINER-PATH[:ro]")
    opts = [o for o in mode.split(",") if o]
    for o in opts:
        if o not in ("ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private",
                     "rprivate", "nocopy"):
            raise InvalidArgument(f"invalid volume specification {spec!r}: unknown mode {o!r}")
    if not src or not dest:
        raise InvalidArgument(f"invalid volume specification {spec!r}: empty path")
    return src, dest, "ro" not in opts, mode


def parse_mount(spec: str) -> dict:
    """Docker's --mount type=bind|volume|tmpfs,source=..,target=..[,readonly]."""
    kv: dict[str, str] = {}
    for item in spec.split(","):
        k, eq, v = item.partition("=")
        k = k.strip().lower()
        if not eq and k in ("readonly", "ro"):
            v = "true"
        kv[k] = v
    kind = kv.get("type", "volume")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid --mount {spec!r}: type must be bind, volume or tmpfs")
    target = kv.get("target") or kv.get("destination") or kv.get("dst")
    if not target:
        raise InvalidArgument(f"invalid --mount {spec!r}: target is required")
    source = kv.get("source") or kv.get("src") or ""
    ro = kv.get("readonly", kv.get("ro", "false")).lower() in ("1", "true", "")
    if kind == "bind" and not source:
        raise InvalidArgument(f"invalid --mount {spec!r}: a bind mount needs source=HOST-PATH")
    return {"Type": kind, "Source": source, "Target": target, "ReadOnly": ro}


def _destination(dest: str, kind: str, spec: str | None = None) -> str:
    """Docker's cleaned destination; never the container's root, which runc could only
    fail on (a bind over / hides the image)."""
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid mount destination {dest!r}: it must be an absolute "
                              "path")
    clean = "/" + posixpath.normpath(dest).lstrip("/")
    if clean == "/":
        msg = (f'invalid mount config for type "{kind}": invalid specification: '
               "destination can't be '/'")
        raise InvalidArgument(f"invalid volume specification: '{spec}': {msg}" if spec else msg)
    return clean


def resolve(engine, config: dict, host_config: dict) -> list[dict]:
    """Validate every mount and create the named/anonymous volumes it needs. Pure
    validation first, so a bad spec creates nothing."""
    wanted: list[tuple[str, str, str, bool, str]] = []   # kind, source, dest, rw, mode
    for spec in host_config.get("Binds") or []:
        src, dest, rw, mode = parse_bind(spec)
        kind = "bind" if src and src.startswith("/") else "volume"
        wanted.append((kind, src, _destination(dest, kind, spec), rw, mode))
    for m in host_config.get("Mounts") or []:
        if isinstance(m, str):
            m = parse_mount(m)
        kind = m.get("Type", "volume")
        wanted.append((kind, m.get("Source", ""), _destination(m["Target"], kind),
                       not m.get("ReadOnly"), ""))
    for kind, src, dest, rw, mode in _volumes_from(engine, host_config.get("VolumesFrom") or []):
        wanted.append((kind, src, dest, rw, mode))
    seen = set()
    for kind, src, dest, _rw, _mode in wanted:
        if dest in seen:
            raise InvalidArgument(f"duplicate mount point: {dest}")
        seen.add(dest)
        if kind == "bind":
            if not src.startswith("/"):
                raise InvalidArgument(f"invalid bind source {src!r}: it must be an absolute path")
            if not os.path.exists(src):
                raise InvalidArgument(f"bind source path does not exist: {src} (create it first "
                                      "or use a named volume)")
        elif kind == "volume" and src and not VALID_VOLUME.match(src):
            raise InvalidArgument(f"invalid volume name {src!r}: use letters, digits, _ . - "
                                  "or an absolute host path")
    for dest in (config.get("Volumes") or {}):
        if dest not in seen:
            wanted.append(("volume", "", dest, True, ""))
            seen.add(dest)
    mounts = []
    for kind, src, dest, rw, mode in wanted:
        if kind == "bind":
            mounts.append(_mount("bind", os.path.realpath(src), dest, rw, mode=mode))
        elif kind == "tmpfs":
            mounts.append(_mount("tmpfs", "", dest, rw))
        else:
            vol = engine.volumes.create(src or None, anonymous=not src)
            mounts.append(_mount("volume", vol["Mountpoint"], dest, rw, name=vol["Name"],
                                 mode=mode or "z"))
    return mounts


def _volumes_from(engine, specs: list[str]):
    for spec in specs:
        name, _, mode = spec.partition(":")
        if mode and mode not in ("ro", "rw"):
            raise InvalidArgument(f"invalid --volumes-from {spec!r}: mode must be ro or rw")
        try:
            other = engine.containers.get(name)
        except NotFound:
            raise NotFound(f"No such container: {name} (given to --volumes-from)") from None
        for m in other.get("Mounts") or []:
            rw = m["RW"] if not mode else mode == "rw"
            kind = m["Type"]
            src = m.get("Name") if kind == "volume" else m["Source"]
            yield kind, src, m["Destination"], rw, m.get("Mode", "")


def oci_mounts(mounts: list[dict], rootfs: str) -> list[dict]:
    out = []
    for m in mounts:
        if m["Type"] == "tmpfs":
            out.append({"destination": m["Destination"], "type": "tmpfs", "source": "tmpfs",
                        "options": ["nosuid", "nodev", "mode=1777"] + ([] if m["RW"] else ["ro"])})
            continue
        if m["Type"] == "volume":
            _copy_up(rootfs, m["Destination"], m["Source"])
        out.append(bind(m["Source"], m["Destination"], readonly=not m["RW"]))
    return out


def _copy_up(rootfs: str, dest: str, data: str) -> None:
    """Docker copies the image's content at a volume's mount point into the volume
    when the volume is new and empty."""
    if not os.path.isdir(data) or os.listdir(data):
        return
    src = os.path.join(rootfs, dest.lstrip("/"))
    if os.path.islink(src) or not os.path.isdir(src):
        return
    marker = os.path.join(os.path.dirname(data), ".copied")
    if os.path.exists(marker):
        return
    shutil.copytree(src, data, symlinks=True, dirs_exist_ok=True)
    open(marker, "w").close()
