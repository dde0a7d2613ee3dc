"""System routes: /_ping, /version and /info."""

import os
import platform
import socket
import subprocess

from fabric import API_VERSION, __version__
from fabric.daemon.http import Request, Response, Router


def add(r: Router, engine) -> None:
    @r.route("GET", "/_ping")
    def ping(req: Request) -> Response:
        return Response(200, raw=b"OK", content_type="text/plain")

    @r.route("GET", "/version")
    def version(req: Request) -> dict:
        return {"Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": "1.24",
                "Os": "linux", "Arch": platform.machine(), "KernelVersion": platform.release(),
                "GoVersion": "python" + platform.python_version(),
                "Components": [{"Name": "Engine", "Version": __version__},
                               {"Name": "runc",
                                "Version": _tool_version(["runc", "--version"])},
                               {"Name": "conmon",
                                "Version": _tool_version(["conmon", "--version"])}]}

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
