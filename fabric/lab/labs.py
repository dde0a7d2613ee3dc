"""Finding a lab by what the user typed (a lab file or a lab's name), and the run-time
operations that work on a lab as it is: test, ping, impair."""

import os
from dataclasses import dataclass

from fabric.errors import InvalidArgument, NotFound
from fabric.lab import checks, impair, live, model, naming, resolve, state, underlay, waiting
from fabric.lab.expect import CheckResult, run
from fabric.lab.progress import quiet
from fabric.plan import Plan


def is_file(ref: str) -> bool:
    return os.path.isfile(ref) or ref.endswith((".yaml", ".yml"))


def name_of(ref: str, name: str | None = None) -> str:
    """The lab a FILE|NAME argument means (for `down`: the file need not be valid)."""
    if name:
        return name
    return resolve.lab_name_of(ref) if is_file(ref) else ref


@dataclass
class Found:
    lab: model.Lab
    state: state.State | None
    note: str = ""          # e.g. the file changed since the lab came up


def find(ref: str, name: str | None = None, *, must_be_up: bool = True) -> Found:
    """The lab FILE|NAME means: a file is read as it is now; a name is read from the
    copy kept when the lab came up."""
    if is_file(ref):
        lab = resolve.load(ref, name)
        st = state.load(lab.name)
        if st is None or st.state != "up":
            if must_be_up:
                raise NotFound(f"lab {lab.name} is not up (fabric lab up {ref})")
            return Found(lab, st)
        note = ""
        if st.doc.get("sha256") != lab.sha256:
            note = f"note: {ref} changed since lab {lab.name} came up"
        return Found(lab, st, note)
    st = state.load(name or ref)
    if st is None:
        known = ", ".join(state.names()) or "none"
        raise NotFound(f"lab {name or ref} is not up (labs up: {known})")
    return Found(resolve.load(st.copy, st.name, origin=st.doc.get("file")), st)


def test(lab: model.Lab, progress=None, parallel: int = 8, say=quiet) -> list[CheckResult]:
    waiting.until_healthy(lab, say)   # `wait: healthy` containers are probed once they are
    now = live.gather(lab)
    return run(checks.from_expectations(now, lab.expect), parallel=parallel,
               progress=progress)


def ping(lab: model.Lab, progress=None, parallel: int = 8) -> list[CheckResult]:
    now = live.gather(lab)
    return run(checks.all_pairs(now), parallel=parallel, progress=progress)


def impairment_plan(lab: model.Lab, target: str, spec: str) -> Plan:
    """`lab impair NAME HOST:IF SPEC` or `lab impair NAME SEGMENT SPEC`."""
    imp = impair.parse(spec)
    host, colon, ifname = target.partition(":")
    if not colon:
        seg = lab.segment(target)
        if seg is None:
            raise InvalidArgument(f"'{target}' is neither HOST:IF nor a segment of lab "
                                  f"{lab.name}")
        if not lab.made_here(seg):
            raise InvalidArgument(f"segment {target} is the network of hosts on other "
                                  "machines: impairment is made in this machine's namespaces")
        return underlay.segment_impairment(lab, seg, imp)
    h = lab.host(host)
    if h is None:
        raise NotFound(f"lab {lab.name} has no host '{host}'")
    if h.remote is not None:
        raise InvalidArgument(f"host {host} is on another machine ({h.remote.url}): "
                              "impairment is made in this machine's namespaces")
    nic = h.nic(ifname)
    if nic is None:
        raise NotFound(f"host {host} has no NIC '{ifname}' "
                       f"(its NICs: {', '.join(n.ifname for n in h.nics) or 'none'})")
    return impair.plan(imp, underlay.nic_ends(lab.name, host, nic),
                       title=f"impair {target} {imp.text()}")


def exec_argv(lab: model.Lab, target: str, argv: list[str], tty: bool) -> list[str]:
    """What `lab exec NAME HOST|CONTAINER -- CMD` runs: CMD inside a host's namespace,
    or `fabric -H LAB.HOST exec` for a container."""
    import sys

    from fabric.host import hosts
    if lab.host(target) is not None:
        return hosts.get(naming.host_ref(lab.name, target)).command(argv)
    c = lab.container(target)
    if c is None:
        raise NotFound(f"lab {lab.name} has no host or container '{target}'")
    flags = ["-i", "-t"] if tty else ["-i"]
    return [sys.executable, "-m", "fabric.cli", "-H", naming.host_ref(lab.name, c.host),
            "exec", *flags, c.name, *argv]
