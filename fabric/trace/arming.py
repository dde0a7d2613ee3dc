"""A namespace made ready to trace the probe, and put back as it was.

Two tables of fabric's own, `bridge fabric_trace_<id>` and `inet fabric_trace_<id>`,
with a base chain at every hook the probe may cross. The first chains (priority -350,
before fabric's anti-spoofing at -300, conntrack at -200 and iptables' raw table)
set nftrace on the probe's packets; after that the kernel reports every chain and rule
they meet in any table, fabric's, iptables-nft's (Debian's iptables) and Docker's
alike. The other chains hold no rule: their policy events say where the packet is
(which hook, which interfaces) even where no other table has a chain. Postrouting's
runs after source NAT (priority 500), so it shows the address the packet leaves with.

The tables carry nftables' `owner` flag: they belong to the netlink socket that made
them (the libnftables context kept here) and the kernel deletes them when it closes,
so a daemon killed in the middle of a trace leaves nothing behind either.
"""

import threading

from fabric.errors import FabricError
from fabric.net import nsexec
from fabric.trace import events
from fabric.trace.match import Match

PREFIX = "fabric_trace_"
FIRST = -350
LAST = 500
BRIDGE_HOOKS = ("forward", "input", "output", "postrouting")
INET_HOOKS = ("input", "forward")


def table_name(session: str) -> str:
    return PREFIX + session


def script(session: str, match: Match) -> str:
    name = table_name(session)
    plain = [f"{rule} meta nftrace set 1 comment \"fabric-trace {why}\""
             for rule, why in match.plain()]
    tunnelled = [f"{rule} meta nftrace set 1 comment \"fabric-trace {why}\""
                 for rule, why in match.tunnelled()]

    def chain(hook: str, prio: int, rules: list[str]) -> str:
        body = "".join(f"    {r}\n" for r in rules)
        return f"  chain {hook} {{\n    type filter hook {hook} priority {prio}\n{body}  }}\n"

    bridge = chain("prerouting", FIRST, plain)
    bridge += "".join(chain(h, FIRST, []) for h in BRIDGE_HOOKS)
    inet = chain("prerouting", FIRST, plain + tunnelled)
    inet += "".join(chain(h, FIRST, []) for h in INET_HOOKS)
    inet += chain("output", FIRST, plain + tunnelled)
    inet += chain("postrouting", LAST, [])
    return "".join(f"table {family} {name} {{\n  flags owner\n  comment \"fabric trace\"\n"
                   f"{body}}}\n" for family, body in (("bridge", bridge), ("inet", inet)))


class Armed:
    """One namespace traced: its tables (held by the context that made them) and the
    socket its trace events queue on. `close` removes both, and is safe twice."""

    def __init__(self, netns: str | None, session: str, match: Match):
        self.netns = netns
        self.session = session
        self._lock = threading.Lock()
        # the listener first: no event of the probe may come before it listens
        self.listener = events.Listener(netns)
        try:
            self._nft = nsexec.run(netns, _context)
            _run(self._nft, script(session, match))
        except BaseException:
            self.listener.close()
            raise

    @property
    def nft(self):
        """The libnftables context of this namespace (its socket was made there)."""
        return self._nft

    def close(self) -> None:
        with self._lock:
            nft, self._nft = self._nft, None
            if nft is None:
                return
            name = table_name(self.session)
            try:
                nft.cmd(f"delete table bridge {name}; delete table inet {name}")
            finally:
                # freeing the context closes its socket: the owner tables go with it
                # even when the delete above failed
                del nft
                self.listener.close()


def _context():
    import nftables
    nft = nftables.Nftables()
    nft.set_handle_output(True)
    return nft


def _run(nft, text: str) -> None:
    rc, _out, err = nft.cmd(text)
    if rc != 0:
        raise FabricError(f"trace: nft refused the trace table: {err.strip()}")
