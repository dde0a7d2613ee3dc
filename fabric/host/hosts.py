"""Hosts on this machine: make, find, list and remove them.

A host is a network namespace (`fabh-<name>`), a root under the hosts directory
($FABRIC_HOSTS_DIR, default /var/lib/fabric-hosts) and the daemon serving that root,
started inside the namespace, so it runs exactly the code it would run on a machine of
its own. `fabric -H NAME` reaches it; `fabric host add|ls|rm` manage it.
"""

import json
import os
import signal
import subprocess
import time

from fabric.errors import Conflict, FabricError, InvalidArgument, NotFound
from fabric.host import daemon, registry
from fabric.host.teardown import teardown
from fabric.net import netns as netnsmod
from fabric.paths import HostRoot, hosts_dir


class Host:
    def __init__(self, record: registry.Record):
        self.record = record

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def lab(self) -> str | None:
        return self.record.lab

    @property
    def netns(self) -> str:
        return self.record.netns

    @property
    def root(self) -> HostRoot:
        return self.record.root

    @property
    def socket(self) -> str:
        return self.root.socket

    def daemon_pid(self) -> int | None:
        return daemon.pid(self.root)

    def start_daemon(self, timeout: float = 20.0) -> int | None:
        """Start the daemon inside the namespace unless it answers already; its pid."""
        daemon.start(self.root, self.netns, timeout)
        return self.daemon_pid()

    def stop_daemon(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
        """Signal the daemon and wait for it to go (killed after `timeout`); False
        when none ran. Containers keep running, as with any daemon stop."""
        return daemon.stop(self.root, sig, timeout)

    def command(self, argv: list[str]) -> list[str]:
        """argv, run inside the host's namespace."""
        if self.record.url is not None:
            raise InvalidArgument(f"host {self.name} is on another machine "
                                  f"({self.record.url}): it has no namespace here")
        return ["nsenter", f"--net={netnsmod.path(self.netns)}", *argv]

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), **kw)

    def remove(self) -> None:
        teardown(self.root, self.netns)


def add(name: str, *, lab: str | None = None, settings: dict | None = None,
        start: bool = True) -> Host:
    """Make host `name` (`LAB.name` for a lab's host): its root, record, namespace and,
    with `start`, its daemon. `settings` go to the root's settings.json (the daemon's
    network settings, as dockerd's options). Nothing stays behind when a step fails."""
    full = registry.full_name(name, lab)
    if settings:
        _check_settings(settings)
    root = registry.root_of(full)
    os.makedirs(hosts_dir(), mode=0o711, exist_ok=True)
    try:
        os.mkdir(root.path, mode=0o711)
    except FileExistsError:
        raise Conflict(f"host {full} already exists") from None
    rec = registry.Record(full, lab, registry.netns_of(full), time.time(), root)
    made_ns = False
    try:
        registry.write(rec)
        if settings:
            with open(root.settings, "w") as f:
                json.dump(settings, f, indent=1)
        netnsmod.create(rec.netns)
        made_ns = True
        host = Host(rec)
        if start:
            host.start_daemon()
        return host
    except BaseException as e:
        try:
            # a namespace of that name made by someone else is theirs, not ours to remove
            teardown(root, rec.netns if made_ns else None)
        except FabricError as undo:
            e.add_note(f"removing the half-made host failed too: {undo.message}")
        raise


def _check_settings(settings: dict) -> None:
    from fabric.host.settings import check
    try:
        check(settings)
    except InvalidArgument as e:
        raise InvalidArgument(f"host settings: {e.message}") from None


def get(name: str) -> Host:
    """The host `name` names, as `-H` resolves it; NotFound listing the known ones."""
    return Host(registry.find(name))


def list_all() -> list[Host]:
    return [Host(r) for r in registry.records()]


def remove(name: str) -> None:
    """Remove a host and everything it holds; also one half made or half removed."""
    try:
        rec = registry.find(name)
    except NotFound:
        root = registry.root_of(name) if registry.well_formed(name) else None
        if root is None or not os.path.isdir(root.path):
            raise
        teardown(root, None)  # made no further than its directory: no namespace is its
        return
    teardown(rec.root, rec.netns)
