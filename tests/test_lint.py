"""ruff and mypy, configured in pyproject.toml, run with the tests: a finding fails the
suite like a broken test does."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing():
    p = _run("ruff", "check", "fabric", "plugins", "tests", "bench")
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy_finds_nothing():
    p = _run("mypy")
    assert p.returncode == 0, p.stdout + p.stderr
