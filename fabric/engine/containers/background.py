"""Run a call on another thread and collect its outcome later: the container lifecycle
overlaps steps that are independent and each take tens of milliseconds."""

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """Run a call on another thread; `result()` joins it and re-raises its error."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            fn(*args)
        except BaseException as e:
            self._error = e

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error
