"""`top` and `stats`: processes from `runc ps` and /proc, resource use from the
container's cgroup v1 directories (/sys/fs/cgroup/<controller>/fabric/<id>), in the
shapes of Docker's Engine API."""

import os
import subprocess
import time

from fabric.engine.timefmt import now_iso
from fabric.errors import Conflict, FabricError, InvalidArgument

CG = "/sys/fs/cgroup"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path: str, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _int(path: str, default: int = 0) -> int:
    v = _read(path).strip()
    if not v:
        return default
    if v == "max":
        return 0
    try:
        return int(v)
    except ValueError:
        return default


def _cg(controller: str, cid: str, fname: str) -> str:
    for c in (controller, "cpu,cpuacct" if controller in ("cpu", "cpuacct") else controller):
        p = os.path.join(CG, c, "fabric", cid, fname)
        if os.path.exists(p):
            return p
    return os.path.join(CG, controller, "fabric", cid, fname)


def top(engine, ref: str, ps_args: str = "") -> dict:
    C = engine.containers
    cid = C.id_of(ref)
    doc = C.get(cid)
    if doc["State"]["Status"] not in ("running", "paused"):
        raise Conflict(f"Container {cid} is not running")
    try:
        pids = set(engine.runc.ps(cid))
    except FabricError:
        pids = set()
    if not pids:
        pids = {int(x) for x in _read(_cg("pids", cid, "cgroup.procs")).split() if x.strip()}
    args = ps_args.split() if ps_args.strip() else ["-ef"]
    try:
        p = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=20,
                           check=False)
    except OSError as e:
        raise FabricError(f"cannot run ps: {e}") from None
    if p.returncode != 0:
        why = p.stderr.strip() or f"exit status {p.returncode}"
        raise InvalidArgument(f"Error running ps: {why}")
    lines = p.stdout.splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    pid_i = titles.index("PID")
    procs = []
    for ln in lines[1:]:
        fields = ln.split(None, len(titles) - 1)
        if len(fields) <= pid_i:
            continue
        try:
            pid = int(fields[pid_i])
        except ValueError:
            raise InvalidArgument(f"Unexpected pid {fields[pid_i]!r}") from None
        if pid in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}


def _system_cpu() -> int:
    for ln in _read("/proc/stat").splitlines():
        if ln.startswith("cpu "):
            return sum(int(x) for x in ln.split()[1:8]) * 1_000_000_000 // CLK_TCK
    return 0


def _online_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def _blkio(cid: str) -> list[dict]:
    out = []
    for ln in _read(_cg("blkio", cid, "blkio.throttle.io_service_bytes")).splitlines():
        f = ln.split()
        if len(f) == 3 and ":" in f[0]:
            maj, mnr = f[0].split(":")
            out.append({"major": int(maj), "minor": int(mnr), "op": f[1], "value": int(f[2])})
    return out


def _networks(pid: int) -> dict:
    nets: dict[str, dict[str, int]] = {}
    if not pid:
        return nets
    for ln in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, rest = ln.partition(":")
        name = name.strip()
        f = rest.split()
        if name == "lo" or len(f) < 16:
            continue
        nets[name] = {"rx_bytes": int(f[0]), "rx_packets": int(f[1]), "rx_errors": int(f[2]),
                      "rx_dropped": int(f[3]), "tx_bytes": int(f[8]), "tx_packets": int(f[9]),
                      "tx_errors": int(f[10]), "tx_dropped": int(f[11])}
    return nets


def sample(engine, doc: dict) -> dict:
    cid = doc["Id"]
    running = doc["State"]["Status"] in ("running", "paused")
    pid = doc["State"].get("Pid") or 0
    if not running:
        return {"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z",
                "name": doc["Name"], "id": cid, "pids_stats": {}, "blkio_stats": {},
                "num_procs": 0, "storage_stats": {},
                "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                                            "usage_in_usermode": 0}, "throttling_data": {}},
                "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
                "memory_stats": {}}
    percpu = [int(x) for x in _read(_cg("cpuacct", cid, "cpuacct.usage_percpu")).split()]
    user = kern = 0
    for ln in _read(_cg("cpuacct", cid, "cpuacct.stat")).splitlines():
        k, _, v = ln.partition(" ")
        if k == "user":
            user = int(v) * 1_000_000_000 // CLK_TCK
        elif k == "system":
            kern = int(v) * 1_000_000_000 // CLK_TCK
    throttling = {}
    for ln in _read(_cg("cpu", cid, "cpu.stat")).splitlines():
        k, _, v = ln.partition(" ")
        throttling[k] = int(v)
    mstat = {}
    for ln in _read(_cg("memory", cid, "memory.stat")).splitlines():
        k, _, v = ln.partition(" ")
        if v.strip().isdigit():
            mstat[k] = int(v)
    limit = _int(_cg("memory", cid, "memory.limit_in_bytes"))
    try:
        with open("/proc/meminfo") as f:
            host_mem = int(f.readline().split()[1]) * 1024
    except OSError:
        host_mem = 0
    if not limit or limit > host_mem > 0:
        limit = host_mem
    pids_max = _read(_cg("pids", cid, "pids.max")).strip()
    stats = {
        "read": now_iso(), "preread": "0001-01-01T00:00:00Z",
        "name": doc["Name"], "id": cid,
        "pids_stats": {"current": _int(_cg("pids", cid, "pids.current")),
                       **({"limit": int(pids_max)} if pids_max.isdigit() else {})},
        "blkio_stats": {"io_service_bytes_recursive": _blkio(cid),
                        "io_serviced_recursive": [], "io_queue_recursive": [],
                        "io_service_time_recursive": [], "io_wait_time_recursive": [],
                        "io_merged_recursive": [], "io_time_recursive": [],
                        "sectors_recursive": []},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": _int(_cg("cpuacct", cid, "cpuacct.usage")),
                                    "percpu_usage": percpu, "usage_in_kernelmode": kern,
                                    "usage_in_usermode": user},
                      "system_cpu_usage": _system_cpu(), "online_cpus": _online_cpus(),
                      "throttling_data": {"periods": throttling.get("nr_periods", 0),
                                          "throttled_periods": throttling.get("nr_throttled", 0),
                                          "throttled_time": throttling.get("throttled_time", 0)}},
        "memory_stats": {"usage": _int(_cg("memory", cid, "memory.usage_in_bytes")),
                         "max_usage": _int(_cg("memory", cid, "memory.max_usage_in_bytes")),
                         "stats": mstat, "failcnt": _int(_cg("memory", cid, "memory.failcnt")),
                         "limit": limit},
    }
    nets = _networks(pid)
    if nets:
        stats["networks"] = nets
    return stats


def stream(engine, ref: str, one_shot_wait: float = 0.5, stream_: bool = True,
           interval: float = 1.0):
    """Yield stats documents: one (with precpu from a short first sample) when not
    streaming, otherwise one a second until the container is gone."""
    C = engine.containers
    cid = C.id_of(ref)
    prev = None
    while True:
        try:
            doc = C.get(cid)
        except FabricError:
            return
        cur = sample(engine, doc)
        if prev is None and not stream_ and doc["State"]["Status"] in ("running", "paused"):
            prev = cur
            time.sleep(one_shot_wait)
            continue
        if prev is not None:
            cur["precpu_stats"] = prev["cpu_stats"]
            cur["preread"] = prev["read"]
        yield cur
        if not stream_:
            return
        prev = cur
        time.sleep(interval)
