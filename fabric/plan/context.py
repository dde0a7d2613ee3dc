"""What a plan step needs to reach the kernel."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fabric.net.rtnl import Session


def _default_nft(script: str, ns: str | None) -> None:
    from fabric.net import nft
    nft.run(script, ns)


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class Context:
    """One per applied plan, used from one thread.

    `host_ns` is the namespace that stands for "the host": None for a daemon running
    in its host's namespace, a namespace name when a test or a lab drives a host that
    is itself a namespace. Steps whose `ns` is None run there.

    `host_root` is the host's state root, where kinds of state with a server of their
    own keep it (OVSDB: fabric/plan/ovs_ops.py); such steps open their connection with
    `held`, so the steps of one plan share it and it closes with the context.
    """

    host_ns: str | None = None
    rtnl: Session = field(default_factory=lambda: Session(cache=True))
    nft: Callable[[str, str | None], None] = _default_nft
    host_root: str | None = None
    _held: dict[Any, Closable] = field(default_factory=dict, repr=False)

    def ipr(self, ns: str | None):
        return self.rtnl(ns)

    def held(self, key: Any, opener: Callable[[], Closable]) -> Any:
        """The connection `key` names, opened by `opener` on first use in this plan."""
        if key not in self._held:
            self._held[key] = opener()
        return self._held[key]

    def close(self) -> None:
        held, self._held = self._held, {}
        for conn in held.values():
            conn.close()
        self.rtnl.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
