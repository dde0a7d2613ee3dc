"""A default bridge an earlier root left behind, adopted by a new root.

When a host root goes (its directory removed) while the machine keeps running, its
default bridge stays: `fabric0` with fabric's tag, the configured gateway address and
a host route for the subnet. A new root would find that route in the way of the same
subnet and serve without a default network. Docker reuses docker0 in that case; so
does fabric, for a bridge that is plainly the one it would make: the configured name,
a bridge, a network tag (`fabric:<12 hex>`) of no network this root knows, and the
configured gateway address. The new default network then takes the tag's 12
characters as the start of its id, so the bridge, its MAC (derived from the id) and
every veth an earlier container left on it carry the new network's own tag: the
endpoint reconcile removes those veths, whose addresses would clash with new ones.
"""

import re
from collections.abc import Collection
from dataclasses import dataclass

from fabric.network.model import TAG_PREFIX

NETWORK_TAG = re.compile(re.escape(TAG_PREFIX) + r"([0-9a-f]{12})")


@dataclass(frozen=True)
class Adopted:
    """A bridge an earlier root left, which a new network takes as its own: routes
    through it are the network's, no overlap; its gateway address is fabric's, as it was
    the earlier root's."""
    bridge: str
    id_prefix: str              # the 12 hex characters of its tag: the new id's start


def default_bridge(netns: str | None, name: str, gateway_cidr: str,
                   known_ids: Collection[str]) -> Adopted | None:
    """The bridge `name` in the host's namespace, when an earlier root left it there as
    this root's default bridge would be (see above); None otherwise."""
    from fabric.net import addrs, links, rtnl
    with rtnl.rtnl(netns) as ipr:
        link = links.get(ipr, name)
        if link is None or link.kind != "bridge" or link.alias is None:
            return None
        m = NETWORK_TAG.fullmatch(link.alias)
        if m is None or any(i.startswith(m.group(1)) for i in known_ids):
            return None
        if gateway_cidr not in {a.cidr for a in addrs.list_addrs(ipr, name)}:
            return None
    return Adopted(name, m.group(1))
