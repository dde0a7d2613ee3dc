"""What a probe asks and what it found: plain values, shared by the prober, the
expectation runner and the reports."""

import ipaddress
from dataclasses import dataclass

from fabric.errors import InvalidArgument

PROTOS = ("icmp", "tcp", "udp", "http")
RESULTS = ("ok", "refused", "blocked")


@dataclass(frozen=True)
class Probe:
    proto: str                    # "icmp" | "tcp" | "udp" | "http"
    dst: str                      # IPv4 address
    port: int | None = None
    timeout: float = 1.0          # one try (with nbytes: the whole transfer)
    nbytes: int | None = None     # tcp: carry this many bytes to a sink the prober
    sink_netns: str | None = None  # opens on `port` inside this namespace
    status: int | None = None     # http: a required status code
    via: tuple[tuple[str, str], ...] = ()  # (netns, ifname) where this probe's own
    #                                        packets must be seen
    path: str = "/"               # http: the path requested
    ident: int | None = None      # icmp: the echo identifier; tcp, udp, http: the
    #                               source port (a trace arms its rules for it first)

    def __post_init__(self) -> None:
        if self.proto not in PROTOS:
            raise InvalidArgument(f"probe: unknown protocol {self.proto!r} "
                                  f"({', '.join(PROTOS)})")
        try:
            ipaddress.IPv4Address(self.dst)
        except ValueError as e:
            raise InvalidArgument(f"probe: {self.dst!r} is not an IPv4 address") from e
        if self.proto != "icmp" and not (self.port and 0 < self.port < 65536):
            raise InvalidArgument(f"probe: {self.proto} needs a port (1-65535)")
        if self.timeout <= 0:
            raise InvalidArgument("probe: timeout must be positive")
        if self.ident is not None and not 0 < self.ident < 65536:
            raise InvalidArgument("probe: ident must be within 1..65535")
        if self.nbytes is not None:
            if self.proto != "tcp":
                raise InvalidArgument("probe: bytes can only be carried over tcp")
            if self.nbytes <= 0 or self.sink_netns is None:
                raise InvalidArgument("probe: bytes needs a positive count and a sink "
                                      "namespace")

    def label(self) -> str:
        """How a person names this probe: "icmp", "tcp/80", "http/8080"."""
        return self.proto if self.port is None else f"{self.proto}/{self.port}"


@dataclass(frozen=True)
class Outcome:
    result: str                   # "ok" | "refused" | "blocked" ("error": the probe
    #                               could not be made, e.g. a namespace is missing)
    detail: str                   # one line for people
    elapsed: float
    seen_via: tuple[bool, ...] = ()   # one per `via` entry
