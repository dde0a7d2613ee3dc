"""Validate a Docker-shaped create request and build the container's inspect document.

Validation is pure and runs before anything is written, so bad input leaves nothing
behind; the document it returns is what `inspect` shows and what `start` runs from.
"""

import json
import re

from fabric.engine.health import config as health_config
from fabric.engine.signals import signal_number
from fabric.errors import InvalidArgument
from fabric.runtime import seccomp
from fabric.runtime.spec import valid_cap

MIN_MEMORY = 6 * 1024 * 1024
RESTART_POLICIES = ("", "no", "always", "on-failure", "unless-stopped")
_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_bytes(value: str | int, what: str = "memory") -> int:
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", str(value).lower())
    if not m:
        raise InvalidArgument(f"invalid {what} value {value!r}: use a number with an optional "
                              "unit b, k, m or g, e.g. 256m")
    return int(float(m.group(1)) * _UNITS[m.group(2) or "b"])


def parse_restart(value: str) -> dict:
    name, _, count = (value or "no").partition(":")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy {value!r}: use no, always, "
                              "unless-stopped or on-failure[:max-retries]")
    if count and name != "on-failure":
        raise InvalidArgument(f"invalid restart policy {value!r}: only on-failure takes a "
                              "maximum retry count")
    if count and not count.isdigit():
        raise InvalidArgument(f"invalid restart policy {value!r}: the retry count must be a "
                              "whole number")
    return {"Name": name if name != "no" else "no", "MaximumRetryCount": int(count or 0)}


def validate_host_config(hc: dict) -> dict:
    hc = dict(hc or {})
    mem = hc.get("Memory") or 0
    if mem and mem < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem < 0:
        raise InvalidArgument("invalid memory value: it must be positive")
    cpus = hc.get("NanoCpus") or 0
    if cpus < 0:
        raise InvalidArgument("invalid cpus value: it must be positive, e.g. --cpus 0.5")
    import os
    ncpu = os.cpu_count() or 1
    if cpus > ncpu * 10 ** 9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if 0 < cpus < 10 ** 7:
        raise InvalidArgument("Range of CPUs is from 0.01: --cpus 0.01 is the smallest value")
    pids = hc.get("PidsLimit")
    if pids is not None and pids < -1:
        raise InvalidArgument("invalid pids-limit: use a positive number or -1 for unlimited")
    rp = hc.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0}
    if rp.get("Name", "") not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy {rp.get('Name')!r}")
    if hc.get("AutoRemove") and rp.get("Name") not in ("", "no"):
        raise InvalidArgument("conflicting options: --restart and --rm cannot be used together")
    hc["RestartPolicy"] = {"Name": rp.get("Name") or "no",
                           "MaximumRetryCount": int(rp.get("MaximumRetryCount") or 0)}
    for c in (hc.get("CapAdd") or []) + (hc.get("CapDrop") or []):
        if not valid_cap(c):
            raise InvalidArgument(f"unknown capability {c!r}: use names like NET_ADMIN")
    security_options(hc.get("SecurityOpt"))
    hc.setdefault("NetworkMode", "default")
    hc.setdefault("Binds", None)
    hc.setdefault("Mounts", None)
    hc.setdefault("VolumesFrom", None)
    hc.setdefault("AutoRemove", False)
    hc.setdefault("Privileged", False)
    hc.setdefault("PortBindings", {})
    hc["LogConfig"] = validate_log_config(hc.get("LogConfig"))
    return hc


# Docker's local driver's cap, applied when the user sets none: 20 MB files, 5 of them.
LOG_MAX_SIZE, LOG_MAX_FILE = 20 << 20, 5
LOG_DRIVERS = ("", "k8s-file", "json-file", "local")


def validate_log_config(lc: dict | None) -> dict:
    """conmon's k8s-file log, whatever driver name the caller uses for a file log; only
    the options fabric applies (max-size, max-file), checked as Docker checks them."""
    lc = dict(lc or {})
    kind = lc.get("Type") or ""
    if kind not in LOG_DRIVERS:
        raise InvalidArgument(f"logging driver {kind!r} is not supported: fabric keeps "
                              "conmon's k8s-file log (options max-size, max-file)")
    opts = {str(k): str(v) for k, v in (lc.get("Config") or {}).items()}
    for k in opts:
        if k not in ("max-size", "max-file"):
            raise InvalidArgument(f"unknown log opt '{k}' for k8s-file log driver")
    log_limits(opts)
    return {"Type": "k8s-file", "Config": opts}


def container_log_limits(hc: dict) -> tuple[int, int]:
    """(max-size, max-file) of a container's HostConfig."""
    return log_limits((hc.get("LogConfig") or {}).get("Config") or {})


def log_limits(opts: dict) -> tuple[int, int]:
    """(max-size in bytes, max-file) of a container's log options, defaults filled in."""
    size, files = LOG_MAX_SIZE, LOG_MAX_FILE
    if "max-size" in opts:
        try:
            size = parse_bytes(opts["max-size"], "max-size")
        except InvalidArgument:
            size = 0
        if size <= 0:
            raise InvalidArgument(f"invalid max-size {opts['max-size']!r}: use a positive "
                                  "size with an optional unit k, m or g, e.g. 10m")
    if "max-file" in opts:
        value = opts["max-file"]
        if not value.isdigit() or int(value) < 1:
            raise InvalidArgument("max-file must be a positive number")
        files = int(value)
    return size, files


_TRUE, _FALSE = ("1", "t", "T", "true", "TRUE", "True"), ("0", "f", "F", "false", "FALSE",
                                                           "False")


def security_options(opts: list[str] | None) -> dict:
    """Docker's --security-opt as its daemon reads them: {"seccomp": None (the default
    profile) | "unconfined" | a profile's JSON, "no_new_privileges": bool}. AppArmor and
    SELinux labels are accepted only as their "off" values: fabric applies neither."""
    out: dict = {"seccomp": None, "no_new_privileges": False}
    for opt in opts or []:
        if opt == "no-new-privileges":
            out["no_new_privileges"] = True
            continue
        if opt == "disable":
            continue
        sep = "=" if "=" in opt else ":" if ":" in opt else None
        if sep is None:
            raise InvalidArgument(f"invalid --security-opt 1: {json.dumps(opt)}")
        key, value = opt.split(sep, 1)
        if key == "seccomp":
            out["seccomp"] = None if value == "builtin" else value
        elif key == "no-new-privileges" and value in _TRUE + _FALSE:
            out["no_new_privileges"] = value in _TRUE
        elif (key, value) in (("apparmor", "unconfined"), ("label", "disable")):
            pass
        elif key in ("apparmor", "label"):
            raise InvalidArgument(f"--security-opt {opt}: fabric applies no AppArmor or "
                                  "SELinux profile; only apparmor=unconfined and "
                                  "label=disable are accepted")
        else:
            raise InvalidArgument(f"invalid --security-opt 2: {json.dumps(opt)}")
    if out["seccomp"] not in (None, "unconfined"):
        seccomp.load(out["seccomp"])
    return out


def validate_addresses(host_config: dict, networking: dict) -> None:
    """An address of one's choosing needs a network of one's choosing: Docker refuses
    it with no network, the host's, or another container's."""
    mode = host_config.get("NetworkMode") or "default"
    if mode not in ("none", "host") and not mode.startswith("container:"):
        return
    for ep in ((networking or {}).get("EndpointsConfig") or {}).values():
        ipam = (ep or {}).get("IPAMConfig") or {}
        if ipam.get("IPv4Address") or ipam.get("IPv6Address"):
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")


def validate_config(cfg: dict) -> dict:
    cfg = dict(cfg or {})
    if not cfg.get("Image"):
        raise InvalidArgument("no image given: fabric run IMAGE [COMMAND]")
    for e in cfg.get("Env") or []:
        if not isinstance(e, str) or not e or e.startswith("="):
            raise InvalidArgument(f"invalid environment variable {e!r}: use NAME=value")
    if cfg.get("Hostname") and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}",
                                                 cfg["Hostname"]):
        raise InvalidArgument(f"invalid hostname {cfg['Hostname']!r}")
    wd = cfg.get("WorkingDir") or ""
    if wd and not wd.startswith("/"):
        raise InvalidArgument(f"the working directory {wd!r} is invalid: it needs to be an "
                              "absolute path")
    if cfg.get("StopSignal"):
        signal_number(cfg["StopSignal"])   # Docker refuses a bad one at create
    if "Healthcheck" in cfg:
        cfg["Healthcheck"] = health_config.validate(cfg["Healthcheck"])
    return cfg


def merge_image_config(cfg: dict, image_cfg: dict) -> dict:
    """Fill what the user left out from the image, as Docker does."""
    out = dict(cfg)
    img = image_cfg.get("config") or {}
    env = list(img.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in cfg.get("Env") or []}
    out["Env"] = [e for e in env if e.split("=", 1)[0] not in keys] + list(cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in out["Env"]):
        out["Env"].insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if cfg.get("Entrypoint") is None:
        out["Entrypoint"] = img.get("Entrypoint")
        if not cfg.get("Cmd"):
            out["Cmd"] = img.get("Cmd")
    elif not cfg.get("Cmd"):
        out["Cmd"] = None
    if not out.get("WorkingDir"):
        out["WorkingDir"] = img.get("WorkingDir") or ""
    if not out.get("User"):
        out["User"] = img.get("User") or ""
    exposed = dict(img.get("ExposedPorts") or {})
    exposed.update(cfg.get("ExposedPorts") or {})
    out["ExposedPorts"] = exposed or None
    vols = dict(img.get("Volumes") or {})
    vols.update(cfg.get("Volumes") or {})
    out["Volumes"] = vols or None
    labels = dict(img.get("Labels") or {})
    labels.update(cfg.get("Labels") or {})
    out["Labels"] = labels
    if not out.get("StopSignal"):
        out["StopSignal"] = img.get("StopSignal") or None
    if not out.get("Shell") and img.get("Shell"):
        out["Shell"] = img["Shell"]     # what a CMD-SHELL health check runs under
    healthcheck = health_config.merge(cfg.get("Healthcheck"), img.get("Healthcheck"))
    if healthcheck is not None:
        out["Healthcheck"] = healthcheck
    args = (out.get("Entrypoint") or []) + (out.get("Cmd") or [])
    if not args:
        raise InvalidArgument("No command specified: give one after the image name")
    return out
