"""Docker's own clients against a lab host's daemon (helpers in dockerclients.py)."""

import pytest
from dockerclients import DOCKER, Docker, need


@pytest.fixture
def docker(host, tmp_path):
    need(DOCKER, "docker.io")
    host.fab("ps")      # the daemon is up
    return Docker(host, str(tmp_path / "docker-config"))
