"""A lab host with chosen settings for the trace tests, `fabric trace --json` read back,
and the hops of a trace picked out as a user reads them."""

import json
import os
import subprocess
import sys
import uuid

from fabric.host import hosts

FABRIC = [os.path.join(os.path.dirname(sys.executable), "fabric")]


class Host:
    """A host made by fabric.host, its settings written before its daemon starts (the
    first command starts it, inside the host's namespace)."""

    def __init__(self, settings: dict | None = None):
        self.tag = "tr" + uuid.uuid4().hex[:6]
        self.host = hosts.add(self.tag, start=False)
        self.netns = self.host.netns
        if settings:
            with open(os.path.join(self.host.root.path, "settings.json"), "w") as f:
                json.dump(settings, f)

    def fab(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
        env.update(FABRIC_HOSTS_DIR=os.environ["FABRIC_HOSTS_DIR"], FABRIC_HOST=self.tag)
        p = subprocess.run(FABRIC + list(args), capture_output=True, text=True, env=env,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"fabric {' '.join(args)}: {p.stdout}{p.stderr}")
        return p

    def run(self, name: str, *args: str) -> None:
        self.fab("run", "-d", "--name", name, *args)

    def trace(self, *args: str) -> dict:
        return json.loads(self.fab("trace", *args, "--json", "--timeout", "0.3").stdout)

    def sh(self, cmd: str) -> str:
        p = self.host.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30)
        return p.stdout

    def close(self) -> None:
        self.host.remove()


def trace_tables(netns: str | None) -> list[str]:
    """The trace's own nftables tables in a namespace (None: this one)."""
    cmd = ["nft", "list", "tables"]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if "fabric_trace" in ln]


def hops(doc: dict, stage: str | None = None, direction: str = "request",
         host: str | None = None) -> list[dict]:
    return [h for h in doc["hops"] if h["direction"] == direction
            and (stage is None or h["stage"] == stage) and (host is None or h["host"] == host)]


def one(doc: dict, stage: str, direction: str = "request", host: str | None = None,
        **want: str) -> dict:
    """The hop of `stage` whose fields contain every `want` text; fails saying what
    the trace had instead."""
    found = [h for h in hops(doc, stage, direction, host)
             if all(v in h[k] for k, v in want.items())]
    assert found, f"no {direction} {stage} hop with {want} in:\n" + "\n".join(
        f"  {h['host']} {h['namespace']} {h['stage']} {h['verdict']} {h['interface']} | "
        f"{h['rule']} | {h['reason']}" for h in doc["hops"])
    return found[0]


def lab_up(file: str, name: str) -> str:
    from lab.labcli import lab
    r = lab("up", file, "--name", name)
    assert r.code == 0, r
    return name


def lab_down(name: str) -> None:
    from lab.labcli import lab, leftovers
    r = lab("down", name)
    assert r.code == 0 and leftovers(name) == [], (r, leftovers(name))


def lab_trace(name: str, *args: str) -> dict:
    """`fabric lab trace NAME ARGS --json`, read back."""
    from lab.labcli import lab
    r = lab("trace", name, *args, "--json", "--timeout", "0.3")
    assert r.code == 0, r
    return json.loads(r.out)
