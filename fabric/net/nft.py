"""nftables through libnftables (the `nftables` module), inside a chosen namespace.

A netlink socket for nftables is opened by libnftables in the namespace of the calling
process, so for another namespace the script runs in a forked child that entered it
(as `ip netns exec NS nft -f -` would), never by switching a thread of ours.
"""

from fabric.net import netns
from fabric.net.errors import KernelError


def _run_here(script: str, json_out: bool = False) -> str:
    import nftables

    nft = nftables.Nftables()
    nft.set_json_output(json_out)
    rc, out, err = nft.cmd(script)
    if rc != 0:
        raise KernelError(f"nft: {err.strip() or 'failed'}")
    return out


def _child(nspath: str, script: str, json_out: bool) -> bytes:
    from pyroute2 import netns as pnetns
    pnetns.setns(nspath, flags=0, fork=False)
    return _run_here(script, json_out).encode()


def run(script: str, ns: str | None = None, *, json_out: bool = False) -> str:
    """Run an nft script as one transaction; returns nft's output."""
    if ns is None:
        return _run_here(script, json_out)
    from pyroute2.process import ChildProcess
    with ChildProcess(target=_child, args=[netns.require(ns), script, json_out]) as proc:
        try:
            return proc.get_data(timeout=30).decode()
        except Exception as e:  # the child's KernelError arrives as a plain Exception
            raise KernelError(str(e)) from e
