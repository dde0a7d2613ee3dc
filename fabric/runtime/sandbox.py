"""Each container's network namespace, made by fabric and handed to runc by path.

It is an ordinary named namespace (fabric.net.netns, about 2 ms to make) whose name
derives from the container id, so drivers and teardown find it from the id alone.
"""

import os

from fabric.errors import Conflict
from fabric.net import netns


def netns_name(container_id: str) -> str:
    return "fabc-" + container_id[:12]


def netns_path(container_id: str) -> str:
    return os.path.join(netns.NETNS_DIR, netns_name(container_id))


def create(container_id: str) -> str:
    """Create the container's namespace with lo up; return its path. One that exists
    already (a restart) is kept."""
    try:
        return netns.create(netns_name(container_id))
    except Conflict:
        return netns_path(container_id)


def remove(container_id: str) -> None:
    """Idempotent: an absent namespace is already removed."""
    netns.remove(netns_name(container_id))
