"""A cluster store from its URL (the `cluster-store` setting, Docker's old flag name)."""

import os

from fabric.cluster.sqlite_kv import SqliteKV
from fabric.cluster.store import Cluster
from fabric.errors import InvalidArgument
from fabric.network.settings import STORE_KINDS, etcd_endpoints

SQLITE = "sqlite://"
ETCD = "etcd://"


def connect(url: str) -> Cluster:
    """`sqlite:///var/lib/fabric-labs/LAB/cluster.db`: the embedded store the hosts of
    a lab on one machine share (made when missing; its directory must exist).
    `etcd://10.0.0.5:2379,10.0.0.6:2379`: an etcd v3 cluster, through any of these
    client endpoints. Nothing is contacted here: a daemon starts, and keeps its
    containers, while the store is away; what needs the store says it is unreachable."""
    if url.startswith(SQLITE):
        path = url[len(SQLITE):]
        if not path.startswith("/"):
            raise InvalidArgument(f"cluster store {url!r}: the path must be absolute "
                                  "(sqlite:///PATH)")
        if not os.path.isdir(os.path.dirname(path)):
            raise InvalidArgument(f"cluster store {url!r}: directory "
                                  f"{os.path.dirname(path)} does not exist")
        return Cluster(SqliteKV(path), url)
    if url.startswith(ETCD):
        endpoints = etcd_endpoints(url)
        # here, not at the top: the CLI imports this module and must not load etcd3gw
        from fabric.cluster.etcd_kv import EtcdKV
        return Cluster(EtcdKV(url, endpoints), url)
    raise InvalidArgument(f"cluster store {url!r}: unknown kind ({STORE_KINDS})")
