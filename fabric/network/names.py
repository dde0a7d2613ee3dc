"""Names a container resolves through its /etc/hosts, from endpoint records alone.

Docker's order after --add-host (which the engine puts first): --link lines (default
bridge), then every peer on each user-defined network by name and alias (Docker's
embedded DNS answers these; fabric writes them down and rewrites the file as peers come
and go), those on other hosts of a network spanning hosts too (as the cluster's
endpoint registry lists them), then the container's own addresses. `affected` says
whose file changes when a container comes, goes or is renamed.
"""

from fabric.network import docker_links
from fabric.network.model import RemoteEndpoint
from fabric.network.store import NetworkStore

Line = tuple[str, list[str]]   # address, names


def _ip(ep: dict) -> str:
    return ep["address"].split("/")[0]


def own_lines(mine: list[dict]) -> list[Line]:
    return [(_ip(e), [e["hostname"]]) for e in mine if e.get("address")]


def link_lines(records: NetworkStore, default_id: str | None, mine: list[dict]) -> list[Line]:
    """ALIAS TARGET-HOSTNAME [TARGET-NAME] for each link whose target is on the default
    bridge, when this container is too."""
    if default_id is None or not any(e["network_id"] == default_id for e in mine):
        return []
    on_default = {e["container_name"]: e for e in records.endpoints(network_id=default_id)}
    out = []
    for name, alias in mine[0].get("links", ()):
        target = on_default.get(name)
        if target is not None and target.get("address"):
            out.append((_ip(target), docker_links.hosts_names(alias, target["hostname"], name)))
    return out


def peer_lines(records: NetworkStore, user_defined: set[str], mine: list[dict]) -> list[Line]:
    """Everyone else on my user-defined networks, by name and alias, and by the aliases
    my links give them."""
    aliases_for: dict[str, list[str]] = {}
    for name, alias in (mine[0].get("links", ()) if mine else ()):
        aliases_for.setdefault(name, []).append(alias)
    out = []
    for ep in mine:
        if ep["network_id"] not in user_defined:
            continue
        for peer in records.endpoints(network_id=ep["network_id"]):
            if peer["container_id"] == ep["container_id"] or not peer.get("address"):
                continue
            names = [peer["container_name"], *peer.get("aliases", []),
                     *aliases_for.get(peer["container_name"], [])]
            out.append((_ip(peer), list(dict.fromkeys(names))))
    return out


def remote_lines(remote: dict[str, list[RemoteEndpoint]], user_defined: set[str],
                 mine: list[dict]) -> list[Line]:
    """Everyone on my user-defined networks on other hosts, as this host programmed
    them from the cluster's endpoint registry (network id -> remote endpoints)."""
    return [(r.ip, list(dict.fromkeys([r.name, *r.aliases])))
            for ep in mine if ep["network_id"] in user_defined
            for r in remote.get(ep["network_id"], ()) if r.name]


def affected(records: NetworkStore, container_id: str, name: str,
             network_ids: set[str]) -> frozenset[str]:
    """Other attached containers that see this one: peers on its networks and
    containers linking to its name."""
    seen = {ep["container_id"] for nid in network_ids
            for ep in records.endpoints(network_id=nid)}
    seen |= {ep["container_id"] for ep in records.endpoints()
             if any(target == name for target, _ in ep.get("links", ()))}
    seen.discard(container_id)
    return frozenset(seen)
