"""The engine: one context object holding the host root, store and services, passed
to every part instead of module-level singletons."""

import os

from fabric.engine.attach import AttachHub
from fabric.engine.containers import Containers
from fabric.engine.execs import Execs
from fabric.engine.networking import Networking
from fabric.engine.volumes import Volumes
from fabric.images.store import ImageStore
from fabric.network.context import ClusterStore, HostContext
from fabric.network.driver import DriverRegistry
from fabric.paths import HostRoot
from fabric.runtime.runc import Runc
from fabric.store.db import Store


class Engine:
    def __init__(self, root: str, *, netns: str | None = None,
                 drivers: DriverRegistry | None = None, cluster: ClusterStore | None = None,
                 underlay: str | None = None):
        """`netns`: the namespace standing for this host when it is not the process's
        own (in-process tests); `drivers`: the installed ones by default; `cluster`
        and `underlay`: the store this host shares with others and the address they
        reach it at (the daemon builds the store from the settings)."""
        self.root = HostRoot(os.path.abspath(root))
        self.root.ensure()
        self.store = Store(self.root.db)
        self.runc = Runc(self.root.runc_root)
        self.images = ImageStore(self.root, self.store)
        self.volumes = Volumes(self.root, self.store)
        self.host = HostContext.load(self.root, drivers or DriverRegistry.from_entry_points(),
                                     netns=netns, cluster=cluster, underlay=underlay)
        self.containers = Containers(self)
        self.attach = AttachHub(self)
        self.execs = Execs(self)
        self.network = Networking(self, self.host)

    def start(self) -> None:
        """Called once the daemon holds the root's lock."""
        if not self.store.kv_get("daemon-id"):
            # the host's identity in `info` (Docker's ID), kept for the root's lifetime
            import uuid
            self.store.kv_set("daemon-id", str(uuid.uuid4()))
        self.network.start()
        self.containers.reconcile()
