"""Kernel errors turned into fabric's error hierarchy, with the operation as context."""

import errno as E
import os

from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound


class KernelError(FabricError):
    """The kernel refused a change for a reason the caller could not have checked."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


_BY_ERRNO: dict[int, type[FabricError]] = {
    E.EEXIST: Conflict,
    E.EADDRINUSE: Conflict,
    E.ENODEV: NotFound,
    E.ENOENT: NotFound,
    E.ESRCH: NotFound,
    E.EINVAL: InvalidArgument,
    E.ERANGE: InvalidArgument,
}


def errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)  # NetlinkError keeps errno in .code
    if isinstance(code, int):
        return code
    code = getattr(exc, "errno", None)
    return code if isinstance(code, int) else None


def translate(exc: BaseException, what: str) -> FabricError:
    """One clear line naming what was tried, e.g. 'ip link add br0: File exists'."""
    if isinstance(exc, FabricError):
        return exc
    code = errno_of(exc)
    text = f"{what}: {os.strerror(code) if code else exc}"
    cls = _BY_ERRNO.get(code or 0)
    if cls is not None:
        return cls(text)
    return KernelError(text, code)
