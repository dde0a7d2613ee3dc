"""One error hierarchy for engine, daemon and CLI.

Each error carries the HTTP status the daemon answers with and the exit code the CLI
returns, so the three layers agree without translating by hand.
"""


class FabricError(Exception):
    status = 500
    exit_code = 125

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(FabricError):
    status = 400


class NotFound(FabricError):
    status = 404


class Conflict(FabricError):
    status = 409


class NotRunning(Conflict):
    pass


class Unavailable(FabricError):
    """Something fabric needs does not answer now (a cluster store); trying again later
    may work."""

    status = 503


class CannotInvoke(FabricError):
    """The container's command exists but cannot be executed (Docker's 126)."""

    status = 400
    exit_code = 126


class CommandNotFound(FabricError):
    """The container's command was not found (Docker's 127)."""

    status = 400
    exit_code = 127


BY_NAME = {cls.__name__: cls for cls in (FabricError, InvalidArgument, NotFound, Conflict,
                                         NotRunning, Unavailable, CannotInvoke,
                                         CommandNotFound)}
