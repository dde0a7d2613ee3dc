"""Every key of a host root's settings.json, checked in one place.

The file holds dockerd's daemon.json names for what the host's daemon does: its
networks (fabric/network/settings.py: bip, fixed-cidr, bridge, icc, ..., cluster-store),
where its API listens (api_settings.py: hosts, tlsverify, ...) and which registries
may be reached without TLS (insecure-registries). Each part reads its own keys; this
module knows them all, so that a key nobody reads is refused in one line instead of
being ignored: dockerd likewise refuses a daemon.json holding a directive it does not
know. The daemon checks its file when it starts, `fabric host add --setting` and lab
files before anything is made.
"""

import difflib
import json

from fabric.errors import InvalidArgument
from fabric.host import api_settings
from fabric.images import registry_access
from fabric.network import settings as network_settings

IMAGE_KEYS = frozenset({"insecure-registries"})


def known() -> list[str]:
    return sorted(network_settings.KEYS | set(api_settings.KEYS) | IMAGE_KEYS)


def _name(key: str) -> str:
    # the network keys are read with either separator (routed_subnets, routed-subnets)
    dashed = key.replace("_", "-")
    return dashed if dashed in network_settings.KEYS else key


def check(doc: dict) -> None:
    """InvalidArgument naming the first key that no part of fabric knows, or whose
    value that part refuses."""
    if not isinstance(doc, dict):
        raise InvalidArgument("settings: expected an object of KEY: VALUE")
    keys = known()
    for key in doc:
        if key == "network" and isinstance(doc[key], dict):
            continue        # the older form: the network keys in an object of their own
        if _name(key) not in keys:
            close = difflib.get_close_matches(_name(key), keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(keys)})"
            raise InvalidArgument(f"unknown setting {key!r}{hint}")
    network = doc["network"] if isinstance(doc.get("network"), dict) else \
        {k: v for k, v in doc.items() if _name(k) in network_settings.KEYS}
    network_settings.parse(network)
    api_settings.parse({k: v for k, v in doc.items() if k in api_settings.KEYS})
    registry_access.insecure_entries(doc.get("insecure-registries"))


def check_file(path: str) -> None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read settings {path}: {e}") from e
    try:
        check(doc)
    except InvalidArgument as e:
        raise InvalidArgument(f"{path}: {e.message}") from None
