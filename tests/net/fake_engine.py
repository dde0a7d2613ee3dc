"""Just enough of the engine for its networking (fabric/engine/networking.py): a root,
a store and container documents shaped like the engine's, with no runc behind them.
The network core itself needs none of this (test_core.py)."""

import json
import os
import secrets
import threading

from fabric.errors import NotFound
from fabric.paths import HostRoot
from fabric.store.db import Store


class FakeContainers:
    def __init__(self, root: HostRoot):
        self.root = root
        self.docs: dict[str, dict] = {}
        self._locks: dict[str, threading.RLock] = {}

    def lock(self, cid):
        return self._locks.setdefault(cid, threading.RLock())

    def id_of(self, ref):
        return self.get(ref)["Id"]

    def get(self, ref):
        # the engine's order: a full id or an exact name before any id prefix, or
        # "b" finds a container whose id happens to start with b
        ref = ref.lstrip("/")
        exact = [d for d in self.docs.values() if ref in (d["Id"], d["Name"][1:])]
        found = exact or [d for d in self.docs.values() if d["Id"].startswith(ref)]
        if len(found) != 1:
            raise NotFound(f"No such container: {ref}")
        return json.loads(json.dumps(found[0]))

    def save(self, doc):
        self.docs[doc["Id"]] = json.loads(json.dumps(doc))

    def delete(self, cid):
        self.docs.pop(cid, None)

    def all(self):
        return [json.loads(json.dumps(d)) for d in self.docs.values()]

    def new(self, name, *, network="default", links=None, exposed=None, env=None,
            networking=None, bindings=None, publish_all=False, extra_hosts=None, mac=""):
        cid = secrets.token_hex(32)
        cdir = self.root.container_dir(cid)
        os.makedirs(cdir)
        doc = {"Id": cid, "Name": "/" + name,
               "State": {"Status": "created", "Running": False},
               "Config": {"Hostname": cid[:12], "ExposedPorts": exposed, "Env": env or [],
                          "MacAddress": mac},
               "HostConfig": {"NetworkMode": network, "Links": links,
                              "PortBindings": bindings or {}, "PublishAllPorts": publish_all,
                              "ExtraHosts": extra_hosts, "Dns": [], "DnsSearch": [],
                              "DnsOptions": []},
               "HostsPath": os.path.join(cdir, "hosts"),
               "NetworkSettings": {"Bridge": "", "SandboxID": "", "SandboxKey": "",
                                   "Ports": {}, "Networks": {}},
               "Fabric": {"Networking": networking or {}}}
        self.docs[cid] = doc
        return json.loads(json.dumps(doc))


class FakeEngine:
    def __init__(self, path: str):
        self.root = HostRoot(path)
        self.root.ensure()
        self.store = Store(self.root.db)
        self.containers = FakeContainers(self.root)
