"""What a plan step needs to reach the kernel."""

from collections.abc import Callable
from dataclasses import dataclass, field

from fabric.net.rtnl import Session


def _default_nft(script: str, ns: str | None) -> None:
    from fabric.net import nft
    nft.run(script, ns)


@dataclass
class Context:
    """One per applied plan, used from one thread.

    `host_ns` is the namespace that stands for "the host": None for a daemon running
    in its host's namespace, a namespace name when a test or a lab drives a host that
    is itself a namespace. Steps whose `ns` is None run there.
    """

    host_ns: str | None = None
    rtnl: Session = field(default_factory=lambda: Session(cache=True))
    nft: Callable[[str, str | None], None] = _default_nft

    def ipr(self, ns: str | None):
        return self.rtnl(ns)

    def close(self) -> None:
        self.rtnl.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
