"""Fixtures for network tests: throwaway namespaces, even for "the host".

Every test gets names with a random suffix, and every namespace it makes is removed
at teardown even when the test failed, with whatever still runs in it, so nothing
leaks into the machine's own namespace (tests never create anything there). The
namespaces are fabric.host's bare ones, as benchmarks and the firewall tests use.
"""

import secrets

import pytest

from fabric.host.bare import Namespaces


@pytest.fixture
def uid() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def make_ns(uid):
    """Factory: make_ns("h") creates namespace fabt<uid>-h (lo up) and removes it
    afterwards."""
    spaces = Namespaces(f"fabt{uid}-")
    try:
        yield spaces.make
    finally:
        spaces.remove()


@pytest.fixture
def host_ns(make_ns) -> str:
    """A namespace standing in for the host a driver works on."""
    return make_ns("host")
