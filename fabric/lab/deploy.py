"""`lab up`: resolved -> deployed, the only stage that touches the kernel.

In order: the segments (a namespace and a bridge each); the hosts, in parallel (each
made with its namespace and root, wired to its segments, given its routes, settings
and impairment, then its daemon started); the lab-wide networks, host by host in file
order (the cluster store hands slices out in that order); the containers, hosts in
parallel and each host's in file order (a linked container first); the hosts' firewall
rules, once the containers they name have addresses. Every object is recorded in
lab.json before it is made; on a failure what was made is removed (teardown.py).
"""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from fabric.client.http import ApiError
from fabric.errors import Conflict, FabricError
from fabric.host import hosts, registry
from fabric.lab import (
    clusterstore,
    converge,
    images,
    live,
    machines,
    model,
    naming,
    precheck,
    remote,
    requests,
    state,
    teardown,
    underlay,
    waiting,
)
from fabric.lab.progress import Say, quiet
from fabric.net import netns as netnsmod
from fabric.plan import Applier, Context, Plan

MAX_PARALLEL = 8


class UpFailed(FabricError):
    """`lab up` failed; the message names what failed."""


def up(lab: model.Lab, say: Say = quiet, strict: bool = False) -> bool:
    """Bring the lab up; False when it was up already from this very file. What
    `fabric doctor` would find is warned of first (`strict`: refused)."""
    if state.load(lab.name) is None:
        machines.check(lab)     # hosts on other machines, before anything is made anywhere
        precheck.run(lab, say, strict)
    with state.locked(lab.name):
        st = state.load(lab.name)
        if st is not None or _leftover_hosts(lab.name):
            return _already(lab, st)
        st = state.State(lab.name)
        try:
            images.fetch(lab, st, say)      # first: a missing image is one line, nothing made
        except BaseException:
            st.remove_files()
            raise
        st.set(file=os.path.abspath(lab.file), sha256=lab.sha256, state="making",
               created=time.time())
        with open(st.copy, "w") as f:
            f.write(_text_of(lab))
        try:
            _build(lab, st, say)
        except BaseException as e:
            st.set(state="failed")
            say("lab", "failed; removing what was made")
            try:
                teardown.remove(lab.name, st, say)
            except FabricError as undo:
                e.add_note(f"removing the half-made lab failed too: {undo.message}")
            raise
        st.set(state="up")
        return True


def _text_of(lab: model.Lab) -> str:
    with open(lab.file, encoding="utf-8") as f:
        return f.read()


def _leftover_hosts(name: str) -> list[str]:
    return [r.name for r in registry.records() if r.lab == name]


def _already(lab: model.Lab, st: state.State | None) -> bool:
    if st is None:
        raise Conflict(f"lab {lab.name} has hosts left from an earlier run "
                       f"({', '.join(_leftover_hosts(lab.name))}); remove them first: "
                       f"fabric lab down {lab.name}")
    here = os.path.abspath(lab.file)
    there = st.doc.get("file", "?")
    if st.state != "up":
        raise Conflict(f"lab {lab.name} is half made ({st.state}); remove it first: "
                       f"fabric lab down {lab.name}")
    if there != here:
        raise Conflict(f"lab {lab.name} is up from another file ({there}); take it down "
                       f"first (fabric lab down {lab.name}) or give this one --name")
    if st.doc.get("sha256") != lab.sha256:
        raise Conflict(f"{lab.file} changed since lab {lab.name} came up; take it down "
                       f"first: fabric lab down {lab.name}")
    return False


def apply(p: Plan) -> None:
    with Context() as ctx:
        Applier(ctx).run(p)


def _build(lab: model.Lab, st: state.State, say: Say) -> None:
    for seg in filter(lab.made_here, lab.segments):
        ns = naming.segment_netns(lab.name, seg.name)
        st.record("segment", ns)
        netnsmod.create(ns)
        apply(underlay.segment(lab.name, seg))
        say(f"segment {seg.name}", "up")
    clusterstore.make(lab, st, say)
    _each(lab.hosts, lambda h: _host(lab, h, st, say), "host")
    for seg in lab.segments:
        if seg.impair:
            apply(underlay.segment_impairment(lab, seg, seg.impair))
            say(f"segment {seg.name}", f"up, {seg.impair.text()}")
    for net in lab.networks:
        for h in net.hosts:
            say(f"network {net.name}", f"creating on {h}")
            _call(lab.name, h, "POST", "/networks/create", requests.network(lab.name, net, h),
                  f"network {net.name} on host {h}")
        say(f"network {net.name}", f"on {', '.join(net.hosts)}")
    images.distribute(lab, st, say)
    by_host = [(h, lab.containers_on(h.name)) for h in lab.hosts]
    _each([b for b in by_host if b[1]], lambda b: _containers(lab, b[1], say), "host")
    converge.until_converged(lab, say)
    waiting.until_healthy(lab, say)
    if any(h.firewall for h in lab.hosts):
        _rules(lab, st, say)


def _each(items, fn, what: str) -> None:
    """fn over items in parallel; every one finishes, then the first failure is raised."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)),
                            thread_name_prefix=f"lab-{what}") as ex:
        futures = [ex.submit(fn, item) for item in items]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def _host(lab: model.Lab, h: model.Host, st: state.State, say: Say) -> None:
    ref = naming.host_ref(lab.name, h.name)
    st.record("host", ref)
    if h.remote is not None:
        # another machine: nothing to make (machines.check looked at it before), only
        # the record that lets `-H LAB.HOST` reach it
        remote.register(ref, lab.name, h.remote)
        say(h.name, f"up, on {h.remote.url}")
        return
    say(h.name, "making its namespace and root")
    try:
        host = hosts.add(h.name, lab=lab.name, settings=dict(h.settings) or None,
                         start=False)
        say(h.name, "wiring " + (", ".join(f"{n.ifname}->{n.segment}" for n in h.nics)
                                 or "nothing"))
        apply(underlay.host(lab.name, h))
        _cluster_settings(host.root.settings, clusterstore.url(lab, st), h)
        say(h.name, "starting its daemon")
        host.start_daemon()
        if any(model.DEFAULT_NETWORK in c.network_names for c in lab.containers_on(h.name)):
            _default_bridge(lab.name, h.name, host.root.daemon_log)
    except Exception as e:
        say(h.name, f"FAILED: {live.daemon_error(e)}")
        raise UpFailed(f"host {h.name}: {live.daemon_error(e)}") from e
    say(h.name, "up")


def _default_bridge(lab: str, host: str, log: str) -> None:
    """The host's containers want its default bridge: say why the daemon has none
    (its log says it; a container's create would only say "not found")."""
    r = live.client(lab, host).request("GET", f"/networks/{model.DEFAULT_NETWORK}")
    r.read()
    if r.status != 404:
        return
    why = "see " + log
    try:
        with open(log, errors="replace") as f:
            said = [ln.strip() for ln in f if ln.lower().startswith("default bridge:")]
        why = said[-1] if said else why
    except OSError:
        pass
    raise UpFailed(f"its daemon made no default bridge: {why}")


def _cluster_settings(path: str, store: str, h: model.Host) -> None:
    """The cluster store the lab's hosts share and the address this host is reached at
    (Docker's legacy daemon flags had these names), beside its network settings; and
    where its API is served (hosts, TLS files), as dockerd's daemon.json has them."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        doc = {}
    doc["cluster-store"] = store
    if h.underlay is not None:
        doc["cluster-advertise"] = str(h.underlay.ip)
    doc.update(h.api)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def _call(lab: str, host: str, method: str, path: str, body: dict | None, what: str,
          query: dict | None = None) -> dict:
    try:
        return live.client(lab, host).call(method, path, query, body) or {}
    except ApiError as e:
        raise UpFailed(f"{what}: {e.message}") from None


def _containers(lab: model.Lab, cs: list[model.Container], say: Say) -> None:
    for c in cs:
        say(c.name, f"creating on {c.host}")
        doc = _call(lab.name, c.host, "POST", "/containers/create",
                    requests.container(lab.name, c), f"container {c.name}",
                    {"name": c.name})
        try:
            _call(lab.name, c.host, "POST", f"/containers/{doc['Id']}/start", None,
                  f"container {c.name}")
        except UpFailed:
            say(c.name, "FAILED to start")
            raise
        say(c.name, f"running on {c.host}")


def _rules(lab: model.Lab, st: state.State, say: Say) -> None:
    now = live.gather(lab)
    for h in lab.hosts:
        for r in h.firewall:
            src = _rule_end(now, r.src)
            dst = _rule_end(now, r.dst)
            made = _call(lab.name, h.name, "POST", "/fabric/firewall/rules",
                         requests.rule(r, src, dst, lab.name), f"firewall rule on host {h.name}")
            if h.remote is not None:    # `lab down` removes it there by its id
                st.record("rule", f"{naming.host_ref(lab.name, h.name)} {made.get('id')}")
        if h.firewall:
            say(h.name, f"up, {len(h.firewall)} firewall rule(s)")


def _rule_end(now: live.Live, ref: str | None) -> str | None:
    if ref is None or "/" in ref:
        return ref
    return now.address_of(ref)

