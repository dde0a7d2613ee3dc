"""Platforms (`linux/amd64`, `linux/arm/v7`) as image configs and manifest lists name
them, and the one this machine runs."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass

from fabric.errors import InvalidArgument

# uname's machine names as Go's GOARCH (and GOARM variant) spell them
_MACHINES = {"x86_64": ("amd64", ""), "aarch64": ("arm64", ""), "armv7l": ("arm", "v7"),
             "armv6l": ("arm", "v6"), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
             "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, desc: dict | None) -> bool:
        """Whether a manifest list entry's (or a config's) platform is this one; a
        variant counts only when both name one (arm64's is usually left out)."""
        if not isinstance(desc, dict):
            return False
        if desc.get("os") != self.os or desc.get("architecture") != self.architecture:
            return False
        other = desc.get("variant") or ""
        return not (self.variant and other and other != self.variant)


def native() -> Platform:
    arch, variant = _MACHINES.get(_platform.machine(), (_platform.machine(), ""))
    return Platform("linux", arch, variant)


def arch() -> str:
    return native().architecture


def parse(text: str | None) -> Platform:
    """`--platform`: os[/arch[/variant]]; empty means this machine's."""
    if not text:
        return native()
    parts = text.strip().lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os[/arch[/variant]], e.g. "
                              "linux/amd64")
    if len(parts) == 1:
        return Platform(parts[0], native().architecture, native().variant)
    return Platform(*parts)
