"""Fixtures for the cluster store's tests: a store for each backend.

Every store test takes `store_url`, parametrised by backend (BACKENDS), so both the
embedded store and etcd run the same tests.

etcd is a real one (Debian's etcd-server), one per test session, listening on the
loopback of a namespace made for it, its data in a temporary directory; it is
stopped and everything removed afterwards, also when a test fails. The store tests
run in this process and in workers it starts, so while an etcd test runs, the
test's thread joins that namespace (setns moves only the calling thread; the
threads and processes it starts inherit it) and leaves it afterwards.
"""

import os
import secrets
import shutil
import tempfile

import pytest

from fabric.cluster.connect import connect
from fabric.cluster.kv import Delete
from fabric.cluster.store import Cluster
from fabric.host import bare
from fabric.lab import etcd
from fabric.net import netns as netnsmod
from fabric.net import nsexec

BACKENDS = ["sqlite", "etcd"]


@pytest.fixture(scope="session")
def etcd_server():
    if not etcd.installed():
        pytest.fail(etcd.NOT_INSTALLED)
    d = tempfile.mkdtemp(prefix="fce-", dir="/tmp")
    ns = bare.make(f"fabt{secrets.token_hex(3)}-etcd")
    server = etcd.EtcdServer(d, ns, "127.0.0.1")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        bare.remove(ns)
        shutil.rmtree(d, ignore_errors=True)


class InNamespace:
    """The calling thread inside a namespace until `leave()`."""

    def __init__(self, ns: str):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        nsexec._setns(netnsmod.path(ns))

    def leave(self) -> None:
        try:
            nsexec._setns(f"/proc/self/fd/{self.home}")
        finally:
            os.close(self.home)


@pytest.fixture(params=BACKENDS)
def store_url(request):
    if request.param == "sqlite":
        d = tempfile.mkdtemp(prefix="fcs-", dir="/tmp")
        try:
            yield f"sqlite://{d}/cluster.db"
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return
    server = request.getfixturevalue("inside_etcd")
    c = connect(server.url)
    c.kv.txn([], [Delete("/", prefix=True)])     # each test starts on an empty store
    c.close()
    yield server.url


@pytest.fixture
def inside_etcd(etcd_server):
    """etcd, with the test's thread inside its namespace for the test's length."""
    inside = InNamespace(etcd_server.netns)
    try:
        yield etcd_server
    finally:
        inside.leave()


@pytest.fixture
def cluster(store_url) -> Cluster:
    c = connect(store_url)
    try:
        yield c
    finally:
        c.close()
