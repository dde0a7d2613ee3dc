"""Where a lab's things are made on this machine, and the tags that trace them back.

- a host `h1` of lab `demo` is the registered host `demo.h1` (namespace `fabh-demo.h1`);
- a segment `lan` is a namespace of its own, `fabs-demo.lan`, holding one bridge named
  for the segment; each host NIC is a veth pair: `eth0` in the host's namespace, and a
  port named `<host>-<if>` on the segment's bridge;
- interfaces the lab makes carry the alias `fabric-lab:<lab>:...`. Not `fabric:`: that
  prefix marks a network's own objects to the daemons, and a bridge the lab makes for
  a host (`bridge: br0`) is one the host's daemon must take as made by hand.

Everything the lab makes in the kernel lives inside the lab's own namespaces, so
removing those (by the names recorded in lab.json, never by pattern) removes it all.
"""

import hashlib

from fabric.host import registry

SEGMENT_NS_PREFIX = "fabs-"
TAG = "fabric-lab"
IFNAMSIZ = 15


def short(name: str, limit: int = IFNAMSIZ) -> str:
    """`name`, or when too long a prefix of it and a hash of the whole (still unique)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:4]
    return f"{name[:limit - 5]}~{digest}"


def host_ref(lab: str, host: str) -> str:
    return registry.full_name(host, lab)


def host_netns(lab: str, host: str) -> str:
    return registry.netns_of(host_ref(lab, host))


def segment_netns(lab: str, segment: str) -> str:
    return f"{SEGMENT_NS_PREFIX}{lab}.{segment}"


def segment_bridge(segment: str) -> str:
    return short(segment)


def port(host: str, ifname: str) -> str:
    """The segment bridge's port that a host NIC's veth pair ends in."""
    return short(f"{host}-{ifname}")


def tag(lab: str, *parts: str) -> str:
    return ":".join((TAG, lab, *parts))
