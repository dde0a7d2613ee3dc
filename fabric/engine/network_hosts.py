"""Containers' /etc/hosts, from the names the network core says each one resolves, and
rewritten in place for the running containers a network change affects."""

import logging

from fabric.engine import etcfiles
from fabric.errors import NotFound
from fabric.network.core import NetworkCore

log = logging.getLogger(__name__)


class HostsFiles:
    def __init__(self, engine, core: NetworkCore):
        self.engine = engine
        self.core = core

    def text(self, doc: dict, memo: dict | None = None) -> str:
        own, names = self.core.hosts_lines(doc["Id"], memo)
        extra = etcfiles.extra_hosts(doc["HostConfig"].get("ExtraHosts"))
        return etcfiles.hosts_text(own, etcfiles.merge(extra + names))

    def write(self, doc: dict, memo: dict | None = None) -> None:
        if not doc.get("HostsPath"):
            return
        try:
            etcfiles.rewrite_hosts(doc["HostsPath"], self.text(doc, memo))
        except OSError as e:
            log.warning("hosts file of %s: %s", doc["Id"][:12], e)

    def refresh(self, affected: frozenset[str]) -> None:
        """Rewrite the hosts files of the containers a change affects."""
        memo: dict = {}     # each network read once for all of them
        for cid in affected:
            try:
                self.write(self.engine.containers.get(cid), memo)
            except NotFound:
                continue
