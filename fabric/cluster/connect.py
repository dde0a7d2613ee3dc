"""A cluster store from its URL (the `cluster-store` setting, Docker's old flag name)."""

import os

from fabric.cluster.sqlite_kv import SqliteKV
from fabric.cluster.store import Cluster
from fabric.errors import InvalidArgument

SQLITE = "sqlite://"


def connect(url: str) -> Cluster:
    """`sqlite:///var/lib/fabric-labs/LAB/cluster.db`: the embedded store the hosts of
    a lab on one machine share (made when missing; its directory must exist). The
    overlays issue adds `etcd://HOST:PORT[,HOST:PORT]` here."""
    if url.startswith(SQLITE):
        path = url[len(SQLITE):]
        if not path.startswith("/"):
            raise InvalidArgument(f"cluster store {url!r}: the path must be absolute "
                                  "(sqlite:///PATH)")
        if not os.path.isdir(os.path.dirname(path)):
            raise InvalidArgument(f"cluster store {url!r}: directory "
                                  f"{os.path.dirname(path)} does not exist")
        return Cluster(SqliteKV(path))
    raise InvalidArgument(f"cluster store {url!r}: unknown kind (sqlite:///PATH)")
