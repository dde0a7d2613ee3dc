"""Hosts these tests make by name (through the CLI or fabric.host) are removed at the
end, even when a test fails half way."""

import pytest
from hostcli import unique

from fabric.errors import NotFound
from fabric.host import hosts


@pytest.fixture
def new_name():
    """Factory: a unique host name, whose host (if any is made) goes at teardown."""
    names: list[str] = []

    def make(prefix: str = "t") -> str:
        names.append(unique(prefix))
        return names[-1]

    yield make
    for n in names:
        try:
            hosts.remove(n)
        except NotFound:
            pass
