"""Docker's --network modes that need no driver: `none` (a namespace with only lo),
`host` (the daemon's own namespace) and `container:NAME` (another container's
namespace). Everything else is a network of the network core's.
"""

from fabric.engine import etcfiles
from fabric.errors import InvalidArgument, NotRunning
from fabric.runtime import sandbox

DRIVERLESS = ("none", "host")


def mode(doc: dict) -> str:
    return doc["HostConfig"].get("NetworkMode") or "default"


def driverless(m: str) -> bool:
    return m in DRIVERLESS or m.startswith("container:")


def owns_sandbox(doc: dict) -> bool:
    """Whether the container gets a namespace of its own (not the host's, not another
    container's)."""
    m = mode(doc)
    return m != "host" and not m.startswith("container:")


def validate(containers, m: str, host_config: dict, networking: dict) -> None:
    """Checks for a driverless mode, before anything is created."""
    if m.startswith("container:"):
        containers.id_of(m.split(":", 1)[1])
    elif m == "host" and host_config.get("PortBindings"):
        raise InvalidArgument("conflicting options: port publishing and the host network")
    if host_config.get("Links") and m in DRIVERLESS:
        raise InvalidArgument(f"conflicting options: --link and --network {m}")
    if (networking or {}).get("EndpointsConfig") and m != "none":
        raise InvalidArgument(f"conflicting options: --network {m} and per-network settings")


def endpoint_settings() -> dict:
    """An entry of Docker's NetworkSettings.Networks, before it is attached."""
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": None}


def networks(m: str) -> dict:
    """NetworkSettings.Networks of a container in a driverless mode."""
    return {} if m.startswith("container:") else {m: endpoint_settings()}


def sandbox_of(containers, doc: dict) -> str | None:
    """The namespace the container runs in: the host's (None), another container's, or
    a new one of its own."""
    m = mode(doc)
    if m == "host":
        return None
    if m.startswith("container:"):
        other = containers.get(m.split(":", 1)[1])
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


def resolv_conf(doc: dict) -> str:
    hc = doc["HostConfig"]
    return etcfiles.resolv_text(hc.get("Dns") or [], hc.get("DnsSearch") or [],
                                hc.get("DnsOptions") or [])


def hosts_file(doc: dict) -> str:
    """/etc/hosts without a network of the core's: the host's own file for `host`,
    localhost and --add-host lines otherwise."""
    extra = etcfiles.extra_hosts(doc["HostConfig"].get("ExtraHosts"))
    if mode(doc) != "host":
        return etcfiles.hosts_text([], extra)
    try:
        with open("/etc/hosts") as f:
            hosts = f.read()
    except OSError:
        hosts = etcfiles.HOSTS_HEADER
    return hosts + "".join(f"{ip}\t{' '.join(n)}\n" for ip, n in extra)
