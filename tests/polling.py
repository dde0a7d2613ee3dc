"""Waiting for what the daemon or the kernel finishes a moment after a command returns
(background disposal, a namespace's cleanup work). Importable from every test folder:
pytest puts tests/ on the path for tests/conftest.py."""

import time


def wait_for(fn, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {fn}")
        time.sleep(interval)
