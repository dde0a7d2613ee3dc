"""Creating a container: validate the request, resolve its image and mounts, and write
its row and directory. Nothing of the kernel is touched until it starts."""

import os
import secrets
import sqlite3
import time

from fabric.engine import config as cfgmod
from fabric.engine import mounts, names
from fabric.engine.containers.part import Part
from fabric.engine.timefmt import ZERO, now_iso
from fabric.errors import Conflict, FabricError, InvalidArgument
from fabric.runtime import rootfs


class Creation(Part):
    def create(self, body: dict, name: str | None = None) -> dict:
        body = dict(body or {})
        host_config = cfgmod.validate_host_config(body.pop("HostConfig", None) or {})
        networking = body.pop("NetworkingConfig", None) or {}
        cfgmod.validate_addresses(host_config, networking)
        config = cfgmod.validate_config(body)
        if name is not None and name != "":
            if not names.valid(name):
                raise InvalidArgument(f"Invalid container name ({name}), only "
                                      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            name = name.lstrip("/")
            other = self.records.name_owner(name)
            if other:
                raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                               f'container "{other}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
        image_id = self.engine.images.resolve(config["Image"])
        image_cfg = self.engine.images.config(image_id)
        config = cfgmod.merge_image_config(config, image_cfg)
        self.engine.network.validate(config, host_config, networking)
        cid = secrets.token_hex(32)
        config.setdefault("Hostname", "")
        if not config["Hostname"]:
            config["Hostname"] = cid[:12]
        cdir = self.records.cdir(cid)
        args = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        doc = {
            "Id": cid,
            "Created": now_iso(),
            "Path": args[0],
            "Args": args[1:],
            "State": {"Status": "created", "Running": False, "Paused": False,
                      "Restarting": False, "OOMKilled": False, "Dead": False, "Pid": 0,
                      "ExitCode": 0, "Error": "", "StartedAt": ZERO, "FinishedAt": ZERO},
            "Image": image_id,
            "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
            "HostnamePath": os.path.join(cdir, "hostname"),
            "HostsPath": os.path.join(cdir, "hosts"),
            "LogPath": os.path.join(cdir, "ctr.log"),
            "Name": "",
            "RestartCount": 0,
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
            "HostConfig": host_config,
            "Mounts": [],
            "Config": config,
            "NetworkSettings": {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                                "Networks": {}},
            "Fabric": {"ManualStop": False, "Networking": networking},
        }
        removal = self.ctrs.removal
        # Mounts create volumes; do it before the row so a bad spec leaves no row, and
        # remove the anonymous volumes it made if inserting the row fails.
        doc["Mounts"] = mounts.resolve(self.engine, config, host_config)
        try:
            self._insert(doc, name)
        except BaseException:
            removal.drop_anonymous_volumes(doc)
            raise
        try:
            os.makedirs(cdir, mode=0o700)
            rootfs.prepare(cdir)
            self.engine.network.created(doc)
            self.records.save(doc)
        except BaseException:
            removal.forget(cid)
            raise
        self.ctrs.events.container("create", doc)
        return {"Id": cid, "Warnings": []}

    def _insert(self, doc: dict, name: str | None) -> None:
        for attempt in range(20):
            n = name or names.generate(attempt)
            doc["Name"] = "/" + n
            try:
                self.records.insert(doc, n, time.time())
                return
            except sqlite3.IntegrityError:
                if name:
                    raise Conflict(f'Conflict. The container name "/{name}" is already in use. '
                                   "Remove or rename that container to reuse the name.") from None
        raise FabricError("could not generate a unique container name")
