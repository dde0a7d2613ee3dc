"""Where a host root keeps its files.

A host is a network namespace plus a state root plus its daemon; this module only knows
the root's layout, so the CLI can find the socket without importing the engine.
"""

import os

DEFAULT_ROOT = "/var/lib/fabric"
DEFAULT_HOSTS_DIR = "/var/lib/fabric-hosts"


def default_root() -> str:
    return os.environ.get("FABRIC_ROOT") or DEFAULT_ROOT


def hosts_dir() -> str:
    """Where the hosts made on this machine keep their roots (fabric.host)."""
    return os.environ.get("FABRIC_HOSTS_DIR") or DEFAULT_HOSTS_DIR


class HostRoot:
    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def __repr__(self) -> str:
        return f"HostRoot({self.path!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, HostRoot) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def socket(self) -> str:
        return os.path.join(self.path, "fabric.sock")

    @property
    def lock(self) -> str:
        return os.path.join(self.path, "daemon.lock")

    @property
    def daemon_log(self) -> str:
        return os.path.join(self.path, "daemon.log")

    @property
    def db(self) -> str:
        return os.path.join(self.path, "fabric.db")

    @property
    def containers(self) -> str:
        return os.path.join(self.path, "containers")

    @property
    def images(self) -> str:
        return os.path.join(self.path, "images")

    @property
    def layers(self) -> str:
        return os.path.join(self.path, "layers")

    @property
    def volumes(self) -> str:
        return os.path.join(self.path, "volumes")

    @property
    def runc_root(self) -> str:
        return os.path.join(self.path, "runc")

    @property
    def exits(self) -> str:
        return os.path.join(self.path, "exits")

    @property
    def tmp(self) -> str:
        return os.path.join(self.path, "tmp")

    @property
    def settings(self) -> str:
        return os.path.join(self.path, "settings.json")

    @property
    def host_file(self) -> str:
        return os.path.join(self.path, "host.json")

    @property
    def removing(self) -> str:
        """Present while the host is being torn down: nothing may start its daemon."""
        return os.path.join(self.path, "removing")

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.containers, cid)

    def dir_modes(self) -> dict[str, int]:
        """Docker's modes for /var/lib/docker and what it holds: other users may pass
        through the root (to reach a socket), never list or read what is inside."""
        return {self.path: 0o711, self.containers: 0o710, self.images: 0o700,
                self.layers: 0o710, self.volumes: 0o701, self.runc_root: 0o700,
                self.exits: 0o700, self.tmp: 0o700}

    def private_files(self) -> list[str]:
        """Files at the root's top that only root may read (the store holds every
        container's environment)."""
        return [self.db, self.db + "-wal", self.db + "-shm", self.daemon_log, self.lock,
                self.settings, self.host_file]

    def ensure(self) -> None:
        """Make the layout, and put right the modes of a root an older fabric made."""
        for d, mode in self.dir_modes().items():
            os.makedirs(d, mode=mode, exist_ok=True)
            if os.stat(d).st_mode & 0o7777 != mode:
                os.chmod(d, mode)
        for f in self.private_files():
            try:
                if os.stat(f).st_mode & 0o077:
                    os.chmod(f, 0o600)
            except FileNotFoundError:
                pass
