"""`lab ls` and `lab status`: what is up, from lab.json, the host registry and each
host's daemon."""

from dataclasses import dataclass

from fabric.host import hosts as hostsmod
from fabric.host import registry
from fabric.lab import live, model, naming, remote, state


@dataclass
class Summary:
    name: str
    state: str
    file: str
    hosts: int
    daemons: int        # how many of its hosts have a daemon running


def summaries() -> list[Summary]:
    """Every lab with state on this machine, and labs whose hosts outlived it."""
    names = set(state.names()) | {r.lab for r in registry.records() if r.lab}
    out = []
    for name in sorted(names):
        st = state.load(name)
        refs = [r for r in registry.records() if r.lab == name]
        running = sum(1 for r in refs if (remote.answers(r.name) if r.url
                                          else hostsmod.Host(r).daemon_pid()))
        out.append(Summary(name, st.state if st else "leftover",
                           st.doc.get("file", "") if st else "", len(refs), running))
    return out


def host_rows(lab: model.Lab) -> list[dict]:
    rows = []
    for h in lab.hosts:
        try:
            rec = registry.find(naming.host_ref(lab.name, h.name))
        except Exception:  # noqa: BLE001 - a host removed by hand shows as missing
            rec = None
        nics = ", ".join(f"{n.carrier} {n.address}" if n.address else n.carrier
                         for n in h.nics) or "-"
        if rec is not None and rec.url is not None:     # on another machine: its URL
            rows.append({"HOST": h.name, "STATE": "running" if remote.answers(rec.name)
                         else "unreachable", "NAMESPACE": rec.url, "UNDERLAY": nics})
            continue
        pid = hostsmod.Host(rec).daemon_pid() if rec else None
        rows.append({"HOST": h.name, "STATE": ("running" if pid else "stopped") if rec
                     else "missing", "NAMESPACE": rec.netns if rec else "-",
                     "UNDERLAY": nics})
    return rows


def container_rows(lab: model.Lab, now: live.Live) -> list[dict]:
    rows = []
    for c in lab.containers:
        addrs = now.addresses(c.name)
        rows.append({"CONTAINER": c.name, "HOST": c.host, "STATE": now.state(c.name),
                     "ADDRESSES": ", ".join(f"{n}={a}" for n, a in addrs.items()) or "-",
                     "IMAGE": c.image})
    return rows
