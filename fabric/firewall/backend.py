"""The firewall backend interface, and the registry that picks one by name.

The network core builds one FirewallIntent from its records after every change and
calls `apply`; a backend never reads the store and never edits rules one by one. Both
backends own only what they create (their own tables or chains, tagged), so other
firewalls on the host (Docker, ufw, firewalld) keep theirs.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from fabric.errors import InvalidArgument
from fabric.firewall.intent import FirewallIntent

BOUND = object()  # "the namespace the backend was made for"


@dataclass
class FirewallState:
    """What a backend finds in a namespace, for `fabric doctor` and reconcile."""
    backend: str
    netns: str | None
    present: bool                      # fabric's tables/chains exist
    objects: list[str] = field(default_factory=list)    # e.g. "table inet fabric"
    elements: dict[str, int] = field(default_factory=dict)  # set name -> element count
    outside: list[str] = field(default_factory=list)    # fabric's rules in others' tables
    warnings: list[str] = field(default_factory=list)   # foreign rules that drop fabric's
    localnet: list[str] = field(default_factory=list)   # bridges fabric set route_localnet on


@dataclass(frozen=True)
class KernelRule:
    """One of fabric's rules as the kernel holds it, with its counters (`fabric firewall
    show`, the twin of `iptables -L -n -v`)."""
    table: str              # "inet fabric", "bridge fabric"; iptables: "filter", "nat", "raw"
    chain: str
    text: str               # as `nft list` or `iptables-save` prints it, counters left out
    packets: int = 0
    bytes: int = 0
    comment: str | None = None   # nftables: the rule's reason (reasons.py)
    handle: int | None = None    # nftables


class FirewallBackend(ABC):
    """One backend object per host namespace; `netns=None` is the caller's own.

    Every method also takes `netns` to work on another namespace than the bound one
    (each lab host has its own firewall)."""

    name: str = ""

    def __init__(self, netns: str | None = None):
        self.netns = netns

    def _ns(self, netns) -> str | None:
        return self.netns if netns is BOUND else netns

    @abstractmethod
    def apply(self, intent: FirewallIntent, netns=BOUND, *, force: bool = False) -> None:
        """Make fabric's rules match the intent in one transaction; `force` rebuilds
        everything even when only elements changed (reconcile after a flush)."""

    @abstractmethod
    def describe(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        """The shell commands, in order, that `apply` amounts to (--explain, --dry-run)."""

    @abstractmethod
    def clear(self, netns=BOUND) -> None:
        """Remove everything fabric owns in the namespace; already gone is success."""

    @abstractmethod
    def current(self, netns=BOUND) -> FirewallState:
        """What is there now (read-only)."""

    @abstractmethod
    def drift(self, intent: FirewallIntent, netns=BOUND) -> list[str]:
        """How the kernel differs from the intent, one line each; empty when in sync."""

    @abstractmethod
    def rules(self, netns=BOUND) -> list[KernelRule]:
        """fabric's rules as the kernel has them, chain by chain in order, with their
        counters (read-only)."""


def names() -> list[str]:
    return ["nftables", "iptables"]


def get_backend(name: str = "nftables", netns: str | None = None, **options) -> FirewallBackend:
    """A backend by its setting name ("nftables", the default, or "iptables")."""
    if name == "nftables":
        from fabric.firewall.nft import NftablesBackend
        return NftablesBackend(netns, **options)
    if name == "iptables":
        from fabric.firewall.iptables import IptablesBackend
        return IptablesBackend(netns, **options)
    raise InvalidArgument(f"unknown firewall backend {name!r} (known: {', '.join(names())})")
