"""Fixtures for network tests: throwaway namespaces, even for "the host".

Every test gets names with a random suffix, and every namespace it makes is removed
at teardown even when the test failed, so nothing leaks into the machine's own
namespace (tests never create anything there).
"""

import secrets
import subprocess

import pytest

from fabric.net import netns


@pytest.fixture
def uid() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def make_ns(uid):
    """Factory: make_ns("h") creates namespace ft<uid>-h and removes it afterwards."""
    made: list[str] = []

    def make(role: str) -> str:
        name = f"ft{uid}-{role}"
        netns.create(name)
        made.append(name)
        # loopback up, as a real host's would be
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    yield make
    for name in reversed(made):
        netns.remove(name)


@pytest.fixture
def host_ns(make_ns) -> str:
    """A namespace standing in for the host a driver works on."""
    return make_ns("host")
