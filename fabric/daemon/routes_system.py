"""System routes: /_ping, /version and /info."""

import os
import platform
import socket
import subprocess

from fabric import API_VERSION, __version__
from fabric.daemon.http import MIN_API_VERSION, Request, Response, Router


def add(r: Router, engine) -> None:
    @r.route("GET", "/_ping")
    def ping(req: Request) -> Response:
        # Clients negotiate the API version from these headers (docker's CLI, docker-py).
        return Response(200, raw=b"OK", content_type="text/plain; charset=utf-8",
                        headers={"Docker-Experimental": "false", "Ostype": "linux",
                                 "Cache-Control": "no-cache, no-store, must-revalidate",
                                 "Pragma": "no-cache"})

    @r.route("GET", "/version")
    def version(req: Request) -> dict:
        base = {"Version": __version__, "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": _go_arch(),
                "KernelVersion": platform.release(), "GitCommit": "", "BuildTime": "",
                "GoVersion": "python" + platform.python_version()}
        # The docker CLI prints the engine's lines from its component's Details.
        details = {k: v for k, v in base.items() if k != "Version"}
        return {**base, "Experimental": False,
                "Components": [{"Name": "Engine", "Version": __version__,
                                "Details": {**details, "Experimental": "false"}},
                               {"Name": "runc",
                                "Version": _tool_version(["runc", "--version"])},
                               {"Name": "conmon",
                                "Version": _tool_version(["conmon", "--version"])}]}

    @r.route("GET", "/system/df")
    def disk_usage(req: Request) -> dict:
        return _disk_usage(engine)

    @r.route("GET", "/info")
    def info(req: Request) -> dict:
        docs = engine.containers.all()
        count = {s: sum(1 for d in docs if d["State"]["Status"] == s)
                 for s in ("running", "paused", "exited", "created")}
        return {"ID": engine.store.kv_get("daemon-id") or "", "Containers": len(docs),
                "ContainersRunning": count["running"], "ContainersPaused": count["paused"],
                "ContainersStopped": count["exited"] + count["created"],
                "Images": len(engine.images.list()), "Driver": "overlay",
                "DockerRootDir": engine.root.path, "Name": socket.gethostname(),
                "NCPU": os.cpu_count(), "MemTotal": _mem_total(), "OperatingSystem": _os_name(),
                "OSType": "linux", "Architecture": platform.machine(),
                "KernelVersion": platform.release(), "ServerVersion": __version__,
                "DefaultRuntime": "runc", "CgroupDriver": "cgroupfs",
                "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
                else "1",
                "LoggingDriver": "k8s-file (conmon)", "Pid": os.getpid(),
                "NetworkNamespace": os.readlink("/proc/self/ns/net"),
                "Plugins": {"Volume": ["local"], "Network": engine.network.driver_names()},
                "SecurityOptions": []}


def _disk_usage(engine) -> dict:
    """GET /system/df in Docker's shape, from what the list routes know (sizes that
    would need a walk of every layer and volume are left at what is at hand)."""
    from fabric.engine.listing import list_containers
    images = engine.images.list()
    volumes = engine.volumes.list({})
    for v in volumes:
        v.setdefault("UsageData", {"Size": -1, "RefCount": -1})
    return {"LayersSize": sum(i.get("Size", 0) for i in images), "Images": images,
            "Containers": list_containers(engine, all_=True, limit=None, size=False,
                                          filters={}),
            "Volumes": volumes, "BuildCache": []}


def _go_arch() -> str:
    """/version's Arch is Go's name for it (the docker CLI prints linux/amd64)."""
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(m, m)


def _tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
        return out.split("\n")[0].split()[-1] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "missing"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) * 1024
    except OSError:
        return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for ln in f:
                if ln.startswith("PRETTY_NAME="):
                    return ln.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
