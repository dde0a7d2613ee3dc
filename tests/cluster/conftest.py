"""Fixtures for the cluster store's tests: a store for each backend.

Every store test takes `store_url`, parametrised by backend, so the overlays issue's
etcd backend runs the same tests by adding its name to BACKENDS and a way to start a
throwaway server (a fixture that yields its URL) below.
"""

import shutil
import tempfile

import pytest

from fabric.cluster.connect import connect
from fabric.cluster.store import Cluster

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request):
    if request.param == "sqlite":
        d = tempfile.mkdtemp(prefix="fcs-", dir="/tmp")
        try:
            yield f"sqlite://{d}/cluster.db"
        finally:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cluster(store_url) -> Cluster:
    c = connect(store_url)
    try:
        yield c
    finally:
        c.close()
