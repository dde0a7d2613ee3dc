"""Networking that needs no driver: `none` (a namespace with only lo), `host` (the
daemon's own namespace) and `container:NAME` (another container's namespace).

The network manager (fabric.network) extends this with driver-backed networks; the
engine talks to either through the same methods.
"""

from fabric.engine import etcfiles
from fabric.errors import InvalidArgument, NotFound, NotRunning
from fabric.runtime import sandbox


class BasicNetworking:
    MODES = ("none", "host", "default")

    def __init__(self, engine):
        self.engine = engine

    # ---- validation and bookkeeping --------------------------------------------------
    def mode(self, doc: dict) -> str:
        return doc["HostConfig"].get("NetworkMode") or "default"

    def validate(self, config: dict, host_config: dict, networking: dict) -> None:
        mode = host_config.get("NetworkMode") or "default"
        if mode.startswith("container:"):
            self.engine.containers.id_of(mode.split(":", 1)[1])
            return
        if mode not in self.MODES:
            raise NotFound(f"network {mode} not found")
        if mode == "host" and host_config.get("PortBindings"):
            raise InvalidArgument("conflicting options: port publishing and the host network")
        if host_config.get("Links") and mode in ("host", "none"):
            raise InvalidArgument(f"conflicting options: --link and --network {mode}")

    def created(self, doc: dict) -> None:
        mode = self.mode(doc)
        doc["NetworkSettings"]["Networks"] = {} if mode.startswith("container:") or \
            mode == "default" else {mode: self._endpoint_settings()}

    def removed(self, doc: dict) -> None:
        pass

    def renamed(self, doc: dict, old: str) -> None:
        pass

    @staticmethod
    def _endpoint_settings() -> dict:
        return {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": "", "DriverOpts": None}

    # ---- start and stop ----------------------------------------------------------------
    def sandbox(self, doc: dict) -> str | None:
        mode = self.mode(doc)
        if mode == "host":
            return None
        if mode.startswith("container:"):
            other = self.engine.containers.get(mode.split(":", 1)[1])
            if other["State"]["Status"] not in ("running", "paused"):
                raise NotRunning(f"cannot join the network of container {other['Name'][1:]}: "
                                 "it is not running")
            path = other["NetworkSettings"].get("SandboxKey") or ""
            if not path:
                raise NotRunning(f"container {other['Name'][1:]} shares the host's network; "
                                 "use --network host")
            doc["NetworkSettings"]["SandboxKey"] = path
            return path
        path = sandbox.create(doc["Id"])
        doc["NetworkSettings"]["SandboxKey"] = path
        doc["NetworkSettings"]["SandboxID"] = sandbox.netns_name(doc["Id"])
        return path

    def attach(self, doc: dict, netns: str | None) -> None:
        pass

    def explaining(self, mode: str = "explain"):
        """No driver-made kernel objects to explain for none/host/container modes."""
        from contextlib import nullcontext
        return nullcontext([])

    def detach(self, doc: dict, sandbox_ending: bool = False) -> None:
        pass

    def release(self, doc: dict) -> None:
        pass

    def owns_sandbox(self, doc: dict) -> bool:
        mode = self.mode(doc)
        return mode != "host" and not mode.startswith("container:")

    # ---- files and environment -----------------------------------------------------------
    def etc_files(self, doc: dict) -> tuple[str, str]:
        hc = doc["HostConfig"]
        mode = self.mode(doc)
        extra = [(h.split(":", 1)[1], [h.split(":", 1)[0]]) for h in hc.get("ExtraHosts") or []]
        if mode == "host":
            try:
                with open("/etc/hosts") as f:
                    hosts = f.read()
            except OSError:
                hosts = etcfiles.HOSTS_HEADER
            hosts += "".join(f"{ip}\t{' '.join(n)}\n" for ip, n in extra)
        else:
            hosts = etcfiles.hosts_text([], extra)
        resolv = etcfiles.resolv_text(hc.get("Dns") or [], hc.get("DnsSearch") or [],
                                      hc.get("DnsOptions") or [])
        return hosts, resolv

    def env(self, doc: dict) -> list[str]:
        return []

