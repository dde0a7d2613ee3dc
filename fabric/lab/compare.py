"""`fabric lab compare FILE --network NET --drivers ...`: the same lab brought up once
per driver, its expectations run and the path between two of NET's containers on
different hosts measured, then taken down; one row per driver (compare_report.py).

Every variant is made (variants.py) before the first comes up, so a driver that
cannot carry the lab, or is not here (Open vSwitch missing), is refused in one line
with nothing made. Then per driver, one after the other (two at once would share the
machine and measure each other): the variant comes up as `lab up` brings a file up,
as lab `<lab>-<driver>`; `lab test`'s expectations run; then from A, the first
container on NET, to B, the first on NET on another host:

- throughput: iperf3 (Debian's) for `seconds`, its server in B's namespace, the
  client in A's (fabric/probe/measure.py, which the benchmarks use too);
- round-trip time: busybox's adaptive ping from A's namespace, `pings` echoes;
- time to reachability, `starts` times: a container like B (its image and command, on
  NET only) is made on B's host; from its start request until an echo from A is
  answered (its address is asked for as soon as start returns); the median counts.

Then the lab comes down, whatever happened: a failure, Ctrl-C or SIGTERM. While it
comes down those signals wait, and are acted on once it is down.
"""

import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from fabric.client.http import ApiError, DaemonUnavailable
from fabric.errors import Conflict, FabricError, InvalidArgument
from fabric.host import registry
from fabric.lab import (
    deploy,
    labs,
    live,
    model,
    requests,
    resolve,
    shape,
    source,
    state,
    teardown,
    variants,
)
from fabric.lab.progress import Say, quiet
from fabric.lab.report import failure_line
from fabric.probe import measure

REACH_LIMIT = 10.0          # seconds a started container has to answer across hosts


@dataclass(frozen=True)
class Settings:
    seconds: float = 3.0        # each iperf3 run
    pings: int = 200            # echoes for the round-trip time
    starts: int = 3             # containers started for the time to reachability


@dataclass(frozen=True)
class Plan:
    lab: model.Lab              # as written
    network: str
    a: model.Container          # measured from
    b: model.Container          # measured to, on another host
    variants: tuple[variants.Variant, ...]


@dataclass
class Row:
    driver: str
    lab: str
    rewritten: str
    carried_by: str
    checks: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    mtu: int | None = None
    bps: float | None = None
    rtt_ms: float | None = None
    reach_s: float | None = None
    reach_runs: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.passed == self.checks


def prepare(path: str, network: str, drivers: str, name: str | None = None) -> Plan:
    """Everything checked, nothing made: the drivers, the lab file, NET in it, the two
    containers to measure between, and each driver's variant."""
    wanted = _drivers(drivers)
    src = source.read(path)
    shape.check(src)
    base = resolve.Resolver(src).lab(name)
    variants.network_of(src, base, network)
    far = next((h.name for h in base.hosts if h.remote is not None), None)
    if far is not None:
        raise InvalidArgument(f"lab {base.name}: compare measures in this machine's "
                              f"namespaces, and host {far} is on another machine")
    a, b = _pair(base, network)
    try:
        made = tuple(variants.make(src, base, network, d, variants.lab_name(base.name, d))
                     for d in wanted)
    except variants.Unfit as e:
        raise variants.Unfit(f"{e.message}; leave it out of --drivers") from None
    for v in made:
        _free(v.lab.name)
    return Plan(base, network, a, b, made)


def _drivers(text: str) -> list[str]:
    names = list(dict.fromkeys(d.strip() for d in text.split(",") if d.strip()))
    every = ", ".join(variants.DRIVERS)
    if not names:
        raise InvalidArgument(f"--drivers: name at least one of {every}")
    for d in names:
        if d not in variants.DRIVERS:
            raise InvalidArgument(f"--drivers: unknown driver '{d}' (known: {every})")
    installed = resolve.installed_drivers()
    for d in names:
        if d not in installed:
            raise variants.Unfit(f"{d}: the driver is not installed (installed: "
                                 f"{', '.join(installed)})")
    if "ovs" in names:
        from fabric.ovs import daemons
        if daemons.missing():
            raise variants.Unfit(f"ovs: {daemons.MISSING}; leave it out of --drivers")
    if shutil.which("iperf3") is None:
        raise InvalidArgument(measure.IPERF_MISSING)
    return names


def _pair(lab: model.Lab, net: str) -> tuple[model.Container, model.Container]:
    on = [c for c in lab.containers if net in c.network_names]
    b = next((c for c in on if c.host != on[0].host), None) if on else None
    if b is None:
        where = f"all on host {on[0].host}" if on else "none is on it"
        raise InvalidArgument(f"{lab.file}: network {net} has no two containers on "
                              f"different hosts to measure between ({where})")
    return on[0], b


def _free(name: str) -> None:
    if state.load(name) is not None or any(r.lab == name for r in registry.records()):
        raise Conflict(f"lab {name} exists already, and compare brings it up and down "
                       f"itself: take it down first (fabric lab down {name}) or give --name")


def run(plan: Plan, settings: Settings, say: Say = quiet) -> list[Row]:
    """Each variant up, tested, measured and down, in turn."""
    tmp = tempfile.mkdtemp(prefix="fabric-compare-")
    try:
        with _sigterm_interrupts():
            return [_one(plan, v, settings, tmp, say) for v in plan.variants]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def carried_by(net: model.Network) -> str:
    """What carries the network between hosts, in words."""
    if net.driver == "bridge":
        up = net.option("uplink")
        return f"one L2 segment ({up} bridged)" if up else "a bridge per host"
    if net.driver == "routing":
        return "routes between slices"
    if net.driver == "mesh":
        return "VXLAN (kernel)"
    if net.driver == "ovs":
        from fabric.ovs import daemons
        path = "kernel" if daemons.datapath() == "system" else "userspace"
        return f"{(net.option('tunnel') or 'gre').upper()} (Open vSwitch, {path})"
    return net.driver


def _one(plan: Plan, v: variants.Variant, settings: Settings, tmp: str, say: Say) -> Row:
    net = v.lab.network(plan.network)
    assert net is not None
    row = Row(v.driver, v.lab.name, v.rewritten, carried_by(net))
    path = os.path.join(tmp, f"{v.lab.name}.yaml")
    with open(path, "w") as f:
        f.write(v.text)
    lab = replace(v.lab, file=path)     # the lab keeps the rewritten file as its copy
    begun = time.monotonic()
    stage = "up"
    try:
        say(v.driver, f"bringing lab {lab.name} up")
        deploy.up(lab, _warnings(v.driver, say))
        row.seconds["up"] = time.monotonic() - begun
        stage, t = "expectations", time.monotonic()
        say(v.driver, f"running {len(lab.expect)} expectation(s)")
        results = labs.test(lab)
        row.checks, row.passed = len(results), sum(r.passed for r in results)
        row.failures = [failure_line(r) for r in results if not r.passed]
        row.seconds["test"] = time.monotonic() - t
        stage, t = "measuring", time.monotonic()
        _measure(lab, plan, settings, row, say)
        row.seconds["measure"] = time.monotonic() - t
    except (FabricError, ApiError, DaemonUnavailable, OSError) as e:
        row.error = f"{stage}: {live.daemon_error(e)}"
        say(v.driver, f"FAILED {row.error}")
    finally:
        with _shielded():
            t = time.monotonic()
            say(v.driver, f"taking lab {lab.name} down")
            teardown.down(lab.name)
            row.seconds["down"] = time.monotonic() - t
    row.seconds["total"] = time.monotonic() - begun
    say(v.driver, f"done in {row.seconds['total']:.1f} s")
    return row


def _warnings(driver: str, say: Say) -> Say:
    """`lab up`'s warnings (precheck.py) go on, its progress per host does not."""
    def relay(subject: str, text: str) -> None:
        if subject.startswith("warning"):
            say(f"{driver} {subject}", text)
    return relay


def _measure(lab: model.Lab, plan: Plan, settings: Settings, row: Row, say: Say) -> None:
    a, b, net = plan.a.name, plan.b.name, plan.network
    now = live.gather(lab)
    a_ns, b_ns = now.netns(a), now.netns(b)
    src, dst = now.addresses(a).get(net), now.addresses(b).get(net)
    if not src or not dst:
        raise FabricError(f"{a if not src else b} has no address on {net}")
    if measure.until(a_ns, dst, "ok", time.monotonic(), REACH_LIMIT, timeout=0.2) > REACH_LIMIT:
        raise FabricError(f"{a} does not reach {b} at {dst}: nothing to measure")
    row.mtu = measure.mtu(a_ns, src)
    say(row.driver, f"iperf3 {a} -> {b} for {settings.seconds:g} s")
    row.bps = measure.throughput(b_ns, a_ns, dst, settings.seconds)
    say(row.driver, f"{settings.pings} pings {a} -> {b}")
    row.rtt_ms = measure.rtt(a_ns, dst, settings.pings)
    for i in range(settings.starts):
        say(row.driver, f"starting a container on {plan.b.host} ({i + 1}/{settings.starts})")
        row.reach_runs.append(_reach(lab, plan, a_ns, i))
    if row.reach_runs:
        row.reach_s = statistics.median(row.reach_runs)


def _reach(lab: model.Lab, plan: Plan, a_ns: str, i: int) -> float:
    """Seconds from a new container's start request on B's host until A reaches it."""
    name = f"{plan.b.name}-reach{i}"
    c = replace(plan.b, name=name, ports=(), expose=(), links=(), hostname=None,
                healthcheck=None, wait=None, networks=(model.Attachment(plan.network),))
    client = live.client(lab.name, plan.b.host)
    made = client.call("POST", "/containers/create", {"name": name},
                       requests.container(lab.name, c))
    try:
        start = time.monotonic()
        client.call("POST", f"/containers/{made['Id']}/start")
        doc = client.call("GET", f"/containers/{made['Id']}/json")
        ip = doc["NetworkSettings"]["Networks"][plan.network]["IPAddress"]
        took = measure.until(a_ns, ip, "ok", start, REACH_LIMIT)
    finally:
        client.call("DELETE", f"/containers/{made['Id']}", {"force": True})
    if took > REACH_LIMIT:
        raise FabricError(f"a container started on {plan.b.host} ({ip}) was not reached "
                          f"from {plan.a.name} within {REACH_LIMIT:g} s")
    return took


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _handler(act: Callable[[int], None]):
    """A signal handler that runs `act` in this process only. pyroute2 forks helpers
    from the calling thread to enter namespaces; a signal sent to one of those must
    end it as by default, not run this process's unwinding in the copy."""
    owner = os.getpid()

    def handle(signum, frame) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        act(signum)
    return handle


def _interrupt(signum: int) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts():
    """SIGTERM acts as Ctrl-C does while compare runs, so the lab up comes down."""
    if not _main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _handler(_interrupt))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _shielded():
    """Ctrl-C and SIGTERM wait while a lab comes down; once it is down, they interrupt."""
    if not _main_thread():
        yield
        return
    got: list[int] = []
    olds = {s: signal.signal(s, _handler(got.append)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in olds.items():
            signal.signal(s, h)
    if got:
        raise KeyboardInterrupt
