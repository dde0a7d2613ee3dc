"""Build the OCI runtime spec (config.json) runc runs a container from.

Defaults follow Docker's: its capability set, masked and read-only /proc paths, a
private /dev with the standard nodes, and no rlimits (runc refuses limits above the
machine's hard limits, so the container inherits conmon's instead).
"""

from dataclasses import dataclass, field

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
ALL_CAPS = DEFAULT_CAPS + [
    "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_LEASE", "CAP_AUDIT_CONTROL", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
# The kernel's numbering, for reading a bounding set.
_CAP_BITS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]


def available_caps() -> list[str]:
    """Every capability this process may hand on: its bounding set. As Docker does for
    --privileged and ALL, a machine (or a container fabric runs in) that lacks one
    must not make every privileged start fail."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("CapBnd:"))
        bits = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError, IndexError):
        return list(ALL_CAPS)
    held = {c for i, c in enumerate(_CAP_BITS) if bits >> i & 1}
    return [c for c in ALL_CAPS if c in held]
MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def capabilities(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    def norm(c: str) -> str:
        c = c.upper()
        return c if c.startswith("CAP_") else "CAP_" + c
    if privileged:
        return available_caps()
    caps = list(DEFAULT_CAPS)
    for c in add:
        if c.upper() == "ALL":
            caps = available_caps()
        elif norm(c) not in caps:
            caps.append(norm(c))
    for c in drop:
        caps = [] if c.upper() == "ALL" else [x for x in caps if x != norm(c)]
    return caps


def valid_cap(c: str) -> bool:
    c = c.upper()
    return c == "ALL" or (c if c.startswith("CAP_") else "CAP_" + c) in ALL_CAPS


@dataclass
class ProcessSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    terminal: bool = False
    caps: list[str] = field(default_factory=lambda: list(DEFAULT_CAPS))
    no_new_privileges: bool = False

    def to_oci(self) -> dict:
        return {
            "terminal": self.terminal,
            "user": {"uid": self.uid, "gid": self.gid,
                     **({"additionalGids": self.additional_gids} if self.additional_gids else {})},
            "args": self.args,
            "env": self.env,
            "cwd": self.cwd or "/",
            "capabilities": {k: list(self.caps) for k in
                             ("bounding", "effective", "permitted", "ambient")},
            "noNewPrivileges": self.no_new_privileges,
        }


@dataclass
class ContainerSpec:
    process: ProcessSpec
    rootfs: str
    hostname: str
    netns: str | None            # path of the network namespace, None shares the host's
    cgroup: str
    mounts: list[dict] = field(default_factory=list)
    memory: int = 0
    nano_cpus: int = 0
    pids_limit: int = 0
    readonly_rootfs: bool = False
    privileged: bool = False
    seccomp: dict | None = None    # OCI linux.seccomp (fabric.runtime.seccomp); None: none

    def to_oci(self) -> dict:
        namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
        if self.netns:
            namespaces.append({"type": "network", "path": self.netns})
        resources: dict = {"devices": [{"allow": False, "access": "rwm"}] if not self.privileged
                           else [{"allow": True, "access": "rwm"}]}
        if self.memory:
            resources["memory"] = {"limit": self.memory}
        if self.nano_cpus:
            period = 100000
            resources["cpu"] = {"period": period, "quota": self.nano_cpus * period // 10**9}
        if self.pids_limit:
            resources["pids"] = {"limit": self.pids_limit}
        if not self.privileged:
            resources["devices"] += [
                {"allow": True, "type": "c", "major": mj, "minor": mn, "access": "rwm"}
                for mj, mn in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2),
                               (136, -1), (10, 200))]
            for d in resources["devices"][1:]:
                if d.get("minor") == -1:
                    d.pop("minor")
        linux: dict = {
            "namespaces": namespaces,
            "cgroupsPath": self.cgroup,
            "resources": resources,
        }
        if not self.privileged:
            linux["maskedPaths"] = MASKED
            linux["readonlyPaths"] = READONLY
        if self.seccomp is not None:
            linux["seccomp"] = self.seccomp
        return {
            "ociVersion": "1.0.2",
            "process": self.process.to_oci(),
            "root": {"path": self.rootfs, "readonly": self.readonly_rootfs},
            "hostname": self.hostname,
            "mounts": base_mounts(self.privileged, bool(self.netns)) + self.mounts,
            "linux": linux,
        }


def base_mounts(privileged: bool, own_netns: bool) -> list[dict]:
    ro = [] if privileged else ["ro"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
    ]
    if own_netns:
        # sysfs may only be mounted by a process owning the network namespace it shows;
        # with the host's namespace shared, bind the host's /sys read-only instead.
        mounts.append({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": ["nosuid", "noexec", "nodev"] + ro})
    else:
        mounts.append({"destination": "/sys", "type": "bind", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev"] + ro})
    mounts.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                   "options": ["nosuid", "noexec", "nodev", "relatime"] + ro})
    return mounts


def bind(source: str, dest: str, readonly: bool = False, propagation: str = "rprivate") -> dict:
    opts = ["rbind", propagation]
    if readonly:
        opts.append("ro")
    return {"destination": dest, "type": "bind", "source": source, "options": opts}
