"""The nftables backend: fabric's tables `bridge fabric` and `inet fabric`.

Every change is one libnftables JSON batch, so one kernel transaction: it lands whole
or not at all, and a packet never sees half of it. Two shapes of batch:

- full: `add table` + `delete table` + the whole table again, for both tables (the add
  first makes the delete succeed when the table is missing). Used the first time, when
  the skeleton changed (user rules), after a failure, and for `force`.
- delta: when this process applied the same skeleton last time and the namespace's
  ruleset generation is still the one its own commit produced (so nobody, not nft by
  hand, not Docker, committed anything since: nftgen.py), only the set and map
  elements that changed are deleted and added. One more link or published port is
  then a few elements whatever already exists: a full replace with 1,000 links costs
  about 20 ms here, a delta about 0.5 ms (bench/firewall_bench.py). A refused delta
  falls back to the full batch.

The ruleset itself, and why it looks as it does, is in nftrender.py.
"""

import json
import threading
from dataclasses import dataclass
from typing import Any

from fabric.errors import FabricError
from fabric.firewall import coexist, localnet, nftgen, nftlisting, nftrender, validate
from fabric.firewall.backend import BOUND, FirewallBackend, FirewallState, KernelRule
from fabric.firewall.intent import FirewallIntent
from fabric.firewall.ruleset import Ruleset, SetSpec, element_json, element_text
from fabric.net import nsexec


class NftError(FabricError):
    """libnftables refused a batch."""


@dataclass
class _Applied:
    """What this process last committed in one namespace."""
    digest: str                 # the skeleton
    genid: int                  # the ruleset generation that commit produced
    elements: dict[tuple[str, str], frozenset]
    docker_rule: set[int]       # handle of fabric's rule in DOCKER-USER


class NftablesBackend(FirewallBackend):
    name = "nftables"

    def __init__(self, netns: str | None = None, docker_user: bool = True):
        super().__init__(netns)
        self.docker_user = docker_user
        self._applied: dict[str | None, _Applied] = {}
        self._memo: dict[str | None, validate.Memo] = {}
        self._lock = threading.Lock()  # one change at a time per backend
        self._here: Any = None   # the libnftables context of the process's own namespace

    # --- interface ----------------------------------------------------------------

    def apply(self, intent: FirewallIntent, netns=BOUND, *, force: bool = False) -> None:
        ns = self._ns(netns)
        if not intent.enabled:
            self.clear(ns)
            return
        with self._lock:
            if force:
                self._memo.pop(ns, None)
            # validated and rendered before entering the namespace; the memo changes
            # only when rendering succeeds (validate.Memo)
            rs = nftrender.render(intent, memo=self._memo.setdefault(ns, validate.Memo()))
            nsexec.run(ns, self._apply_here, ns, intent, rs, force)

    def describe(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        ns = self._ns(netns)
        if not intent.enabled:
            return [_in_ns(ns, "nft -f -") + " <<'EOF'\n" + _delete_script() + "EOF"]
        rs = nftrender.render(intent, frozenset(localnet.wanted(intent)))
        out = [_in_ns(ns, "nft -f -") + " <<'EOF'\n" + script(rs) + "EOF"]
        for b in sorted(localnet.wanted(intent)):
            out.append(_in_ns(ns, f"sysctl -w net.ipv4.conf.{b}.route_localnet=1"))
        if self.docker_user and _docker_here(ns):
            out.append(_in_ns(ns, _shell(coexist.command("-I"))))
        return out

    def clear(self, netns=BOUND) -> None:
        ns = self._ns(netns)
        with self._lock:
            nsexec.run(ns, self._clear_here)
            self._applied.pop(ns, None)

    def current(self, netns=BOUND) -> FirewallState:
        ns = self._ns(netns)
        return nsexec.run(ns, self._current_here, ns)

    def drift(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        ns = self._ns(netns)
        return nsexec.run(ns, self._drift_here, intent)

    def rules(self, netns=BOUND) -> list[KernelRule]:
        return nsexec.run(self._ns(netns), lambda: nftlisting.rules(_ctx()))

    # --- inside the namespace --------------------------------------------------------

    def _apply_here(self, ns, intent: FirewallIntent, rs: Ruleset, force: bool) -> None:
        if ns is None:
            # The daemon's own namespace: keep one libnftables context (used under
            # self._lock). Freeing a context closes its netlink socket, and right after
            # a commit that deleted elements that close waits out an RCU grace period
            # (5-18 ms here), on every container's exit path.
            nft = self._here = self._here or _ctx()
        else:
            nft = _ctx()
        last = self._applied.get(ns)
        # Docker's hook first: inserting it is a commit of its own, which must come
        # before the generation fabric compares against
        rule = None
        if self.docker_user:
            rule = coexist.ensure(nft, last.docker_rule if last else set())
        gen = nftgen.genid()
        fresh = last if last is not None and not force and last.genid == gen else None
        recorded = (fresh.elements.get(("inet", "localnet"), frozenset()) if fresh
                    else _read_set(nft, "inet", "localnet"))
        ours, on, off = localnet.plan(intent, recorded)
        rs.elements[("inet", "localnet")] = ours
        digest = rs.skeleton_digest()
        self._applied.pop(ns, None)  # until this commit is known to have landed
        committed = True
        if fresh and fresh.digest == digest:
            batch = delta_batch(rs, fresh.elements)
            if batch is None:
                committed = False
            elif nft.json_cmd(batch)[0] != 0:
                _run(nft, full_batch(rs))
        else:
            _run(nft, full_batch(rs))
        for b in on:
            localnet.write(b, "1")
        for b in off:
            localnet.write(b, "0")
        # One batch is one transaction: the generation moves by one. It is not read
        # back now, because right after a commit that deleted elements the kernel makes
        # the next nftables request wait out an RCU grace period (~10 ms here); if
        # anyone else commits in between, the next apply sees a different number and
        # rebuilds whole, which is the safe side.
        expected = (gen + 1) & 0xFFFFFFFF if committed else gen
        self._applied[ns] = _Applied(digest, expected, dict(rs.elements),
                                     {rule} if rule is not None else set())

    def _clear_here(self) -> None:
        nft = _ctx()
        for b in _read_set(nft, "inet", "localnet"):
            localnet.write(b, "0")
        _run(nft, {"nftables": _delete_cmds()})
        coexist.remove(nft)

    def _current_here(self, ns) -> FirewallState:
        nft = _ctx()
        handles = _table_handles(nft)
        st = FirewallState(self.name, ns, present=bool(handles))
        for family, name in handles:
            st.objects.append(f"table {family} {name}")
            for o in _list(nft, f"list table {family} {name}") or []:
                for kind in ("set", "map"):
                    if kind in o:
                        st.elements[f"{family} {o[kind]['name']}"] = len(o[kind].get("elem", []))
        st.localnet = sorted(_read_set(nft, "inet", "localnet"))
        if coexist.present(nft):
            st.outside.append(f"ip filter {coexist.DOCKER_USER}: {_shell(coexist.rule_spec())}")
        st.warnings = coexist.foreign_drops(nft)
        return st

    def _drift_here(self, intent: FirewallIntent) -> list[str]:
        nft = _ctx()
        rs = nftrender.render(intent, _read_set(nft, "inet", "localnet"))
        handles = _table_handles(nft)
        out = [f"table {f} {n} is missing" for f, n in rs.tables if (f, n) not in handles]
        if out:
            return out
        have = _kernel_elements(nft, rs)
        for key, want in rs.elements.items():
            spec = rs.set_spec(key)
            want_j = {_canon(element_json(spec, e)) for e in want}
            got = have.get(key)
            if got is None:
                out.append(f"{key[0]} fabric: set {key[1]} is missing")
                continue
            if want_j - got:
                out.append(f"{key[0]} fabric {key[1]}: {len(want_j - got)} element(s) missing")
            if got - want_j:
                out.append(f"{key[0]} fabric {key[1]}: {len(got - want_j)} unexpected element(s)")
        rules: dict[tuple[str, str], int] = {}
        for family, _ in rs.tables:
            for o in _list(nft, f"list table {family} {nftrender.TABLE}") or []:
                if "chain" in o:
                    rules.setdefault((family, o["chain"]["name"]), 0)
                elif "rule" in o:
                    key = (family, o["rule"]["chain"])
                    rules[key] = rules.get(key, 0) + 1
        for c in rs.chains:
            expected = sum(1 for r in rs.rules if (r.family, r.chain) == (c.family, c.name))
            count = rules.get((c.family, c.name))
            if count is None:
                out.append(f"{c.family} fabric: chain {c.name} is missing")
            elif count != expected:
                out.append(f"{c.family} fabric {c.name}: {count} rules, expected {expected}")
        return out


# --- batches --------------------------------------------------------------------------

def _obj(family: str, **kw) -> dict:
    return {"family": family, "table": nftrender.TABLE, **kw}


def _delete_cmds() -> list[dict]:
    cmds = []
    for family in (nftrender.BRIDGE, nftrender.INET):
        t = {"table": {"family": family, "name": nftrender.TABLE}}
        cmds += [{"add": t}, {"delete": t}]
    return cmds


def full_batch(rs: Ruleset) -> dict:
    cmds = _delete_cmds()
    for family, name in rs.tables:
        cmds.append({"add": {"table": {"family": family, "name": name}}})
    for s in rs.sets:
        cmds.append({"add": {_kind(s): _set_json(s)}})
    for c in rs.chains:
        body = _obj(c.family, name=c.name)
        if c.hook and c.prio:
            body.update(type=c.type, hook=c.hook, prio=c.prio.value, policy=c.policy)
        cmds.append({"add": {"chain": body}})
    for r in rs.rules:
        body = _obj(r.family, chain=r.chain, expr=[s.json for s in r.stmts])
        if r.comment:
            body["comment"] = r.comment
        cmds.append({"add": {"rule": body}})
    for key, elems in rs.elements.items():
        if elems:
            spec = rs.set_spec(key)
            elem = [element_json(spec, e) for e in _sorted(elems)]
            cmds.append({"add": {"element": _obj(key[0], name=key[1], elem=elem)}})
    return {"nftables": cmds}


def delta_batch(rs: Ruleset, before: dict) -> dict | None:
    """Element deletions and additions turning `before` into rs.elements; None when
    nothing changed."""
    cmds = []
    for key, now in rs.elements.items():
        spec = rs.set_spec(key)
        old = before.get(key, frozenset())
        if old is now:  # an unchanged group, reused by the renderer as it was
            continue
        gone, new = old - now, now - old
        if gone:
            # a map element is deleted by its key alone
            key_spec = SetSpec(spec.family, spec.name, spec.type) if spec.map else spec
            elems = [element_json(key_spec, e[0] if spec.map else e) for e in _sorted(gone)]
            cmds.append({"delete": {"element": _obj(key[0], name=key[1], elem=elems)}})
        if new:
            elem = [element_json(spec, e) for e in _sorted(new)]
            cmds.append({"add": {"element": _obj(key[0], name=key[1], elem=elem)}})
    return {"nftables": cmds} if cmds else None


def _kind(s: SetSpec) -> str:
    return "map" if s.map else "set"


def _set_json(s: SetSpec) -> dict:
    body = _obj(s.family, name=s.name, type=_type_json(s.type))
    if s.map:
        body["map"] = _type_json(s.map)
    if s.flags:
        body["flags"] = list(s.flags)
    return body


def _type_json(t: tuple[str, ...]):
    return t[0] if len(t) == 1 else list(t)


def _sorted(elems) -> list:
    # a stable order keeps describe() output and batches reproducible
    return sorted(elems, key=repr)


# --- nft syntax, for describe ------------------------------------------------------------

def script(rs: Ruleset) -> str:
    """The ruleset as an `nft -f` script, one transaction, equivalent to full_batch."""
    lines = [_delete_script()]
    for family, name in rs.tables:
        lines.append(f"table {family} {name} {{")
        for s in rs.sets:
            if s.family != family:
                continue
            typ = " . ".join(s.type) + (f" : {' . '.join(s.map)}" if s.map else "")
            lines.append(f"\t{_kind(s)} {s.name} {{")
            lines.append(f"\t\ttype {typ}")
            if s.flags:
                lines.append(f"\t\tflags {', '.join(s.flags)}")
            elems = rs.elements.get((family, s.name))
            if elems:
                body = ",\n\t\t\t".join(element_text(s, e) for e in _sorted(elems))
                lines.append(f"\t\telements = {{ {body} }}")
            lines.append("\t}")
        for c in rs.chains:
            if c.family != family:
                continue
            lines.append(f"\tchain {c.name} {{")
            if c.hook and c.prio:
                lines.append(f"\t\ttype {c.type} hook {c.hook} priority {c.prio.text}; "
                             f"policy {c.policy};")
            for r in rs.rules:
                if (r.family, r.chain) == (family, c.name):
                    lines.append(f"\t\t{r.text}")
            lines.append("\t}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _delete_script() -> str:
    out = ""
    for family in (nftrender.BRIDGE, nftrender.INET):
        out += f"add table {family} {nftrender.TABLE}\ndelete table {family} {nftrender.TABLE}\n"
    return out


def _in_ns(ns: str | None, cmd: str) -> str:
    if ns is None:
        return cmd
    if ns.startswith("/"):
        return f"nsenter --net={ns} {cmd}"
    return f"ip netns exec {ns} {cmd}"


def _shell(argv: list[str]) -> str:
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def _docker_here(ns) -> bool:
    try:
        return nsexec.run(ns, lambda: coexist.docker_user_present(_ctx()))
    except FabricError:  # a namespace a dry run has not made yet: no Docker there
        return False


# --- libnftables --------------------------------------------------------------------------

def _ctx():
    import nftables  # loads libnftables; only where nftables work happens
    nft = nftables.Nftables()
    nft.set_json_output(True)
    nft.set_handle_output(True)
    return nft


def _run(nft, batch: dict) -> None:
    rc, _, err = nft.json_cmd(batch)
    if rc != 0:
        first = next((ln for ln in err.splitlines() if ln.strip()), "failed")
        raise NftError(f"nftables: {first.strip()}")


def _list(nft, cmd: str) -> list[dict] | None:
    rc, out, _ = nft.cmd(cmd)
    if rc != 0 or not out:
        return None
    return json.loads(out)["nftables"]


def _table_handles(nft) -> dict[tuple[str, str], int]:
    out = {}
    for o in _list(nft, "list tables") or []:
        t = o.get("table")
        if t and t["name"] == nftrender.TABLE and t["family"] in (nftrender.BRIDGE,
                                                                 nftrender.INET):
            out[(t["family"], t["name"])] = t["handle"]
    return out


def _read_set(nft, family: str, name: str) -> frozenset[str]:
    objs = _list(nft, f"list set {family} {nftrender.TABLE} {name}") or []
    for o in objs:
        if "set" in o:
            return frozenset(o["set"].get("elem", []))
    return frozenset()


def _canon(j) -> str:
    return json.dumps(j, sort_keys=True)


def _kernel_elements(nft, rs: Ruleset) -> dict[tuple[str, str], set[str]]:
    out = {}
    for family, _ in rs.tables:
        for o in _list(nft, f"list table {family} {nftrender.TABLE}") or []:
            for kind in ("set", "map"):
                if kind in o:
                    s = o[kind]
                    out[(family, s["name"])] = {_canon(e) for e in s.get("elem", [])}
    return out
