"""Docker's streamed JSON answers (pull, push, build): one object per line."""

import json
import threading
import traceback

from fabric.errors import FabricError
from fabric.images import progress


class JsonStream:
    """Docker's progress stream, started by the first message: an error before it is
    an ordinary HTTP error (Docker answers 404 for an unknown tag, before any output);
    after it, the error travels in the stream, as Docker's does."""

    def __init__(self, req):
        self.req = req
        self._write = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._write is not None

    def __call__(self, msg: dict) -> None:
        with self._lock:
            if self._write is None:
                self._write = self.req.start_stream("application/json")
            self._write(json.dumps(msg).encode() + b"\n")

    def run(self, fn) -> None:
        """Run fn(self); its FabricError goes in the stream once the stream started."""
        try:
            fn(self)
        except FabricError as e:
            if not self.started:
                raise
            # A failed RUN carries its exit code (the build's, as Docker's CLI exits).
            self(progress.error(e.message, 0 if e.exit_code == FabricError.exit_code
                                else e.exit_code))
        except Exception as e:   # a bug: the client must not take a cut stream for success
            if not self.started:
                raise
            traceback.print_exc()
            self(progress.error(f"internal error: {e}"))
