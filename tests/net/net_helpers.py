"""Helpers for network tests: networks and endpoints built the way the manager
builds them, and what iproute2 itself reports about a namespace."""

import json
import os
import secrets
import subprocess

import pytest

from fabric.errors import InvalidArgument
from fabric.network import ipam
from fabric.network.driver import DriverRegistry
from fabric.network.model import Endpoint, Network
from fabric.plan import Plan

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real kernel)")


def make_network(driver, name="n", subnet="10.123.0.0/24", options=None, internal=False,
                 net_id=None, gateway_owned=True) -> Network:
    cfg = driver.validate(options or {})
    return Network(id=net_id or secrets.token_hex(32), name=name, driver=driver.name,
                   config=cfg, ipam=(ipam.build(subnet),), internal=internal,
                   gateway_owned=gateway_owned,
                   options=tuple(sorted((options or {}).items())))


def make_endpoint(net: Network, address: str, ifname="eth0", ep_id=None) -> Endpoint:
    s = net.ipam[0]
    cidr = f"{address}/{s.prefixlen}"
    return Endpoint(id=ep_id or secrets.token_hex(32), network_id=net.id,
                    container_id=secrets.token_hex(32), ifname=ifname, address=cidr,
                    mac=ipam.mac_from_ip(address), gateway=s.gateway)


def ip_json(ns: str, *args: str) -> list:
    """What iproute2 itself reports, independent of our pyroute2 wrappers."""
    out = subprocess.run(["ip", "-n", ns, "-j", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def snapshot(ns: str) -> dict:
    """Links, addresses, routes, neighbours and a few sysctls of a namespace."""
    links = sorted((link["ifname"], link.get("linkinfo", {}).get("info_kind"),
                    link.get("master"), link.get("ifalias"), link["flags"].count("UP"))
                   for link in ip_json(ns, "-d", "link", "show"))
    addrs = sorted((a["ifname"], i["local"], i["prefixlen"])
                   for a in ip_json(ns, "addr", "show") for i in a.get("addr_info", []))
    routes = sorted(json.dumps(r, sort_keys=True) for r in ip_json(ns, "route", "show"))
    sysctls = {}
    for key in ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"):
        sysctls[key] = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-n", key],
                                      check=True, capture_output=True, text=True).stdout
    return {"links": links, "addrs": addrs, "routes": routes, "sysctls": sysctls}


def run_in(ns: str, *cmd: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                          text=True, timeout=timeout)


def ping(ns: str, addr: str) -> bool:
    return run_in(ns, "busybox", "ping", "-c", "1", "-W", "2", addr).returncode == 0


class InertDriver:
    """A driver registered only in tests: it plans nothing and states no firewall
    facts. Subclasses vary what it declares (scope, requires)."""
    name = "inert"
    scope = "local"
    requires: frozenset[str] = frozenset()

    def validate(self, options):
        if options:
            raise InvalidArgument(f"unknown {self.name} driver option {next(iter(options))!r}")
        return None

    def plan_create(self, net):
        return Plan((), title=f"create network {net.name}")

    def plan_delete(self, net):
        return Plan((), best_effort=True, title=f"remove network {net.name}")

    def plan_join(self, net, ep, netns_path):
        return Plan((), title=f"connect {ep.container_id[:12]} to {net.name}")

    def plan_leave(self, net, ep, netns_path, sandbox_ending=False):
        return Plan((), best_effort=True, title=f"disconnect {ep.container_id[:12]}")

    def firewall_facts(self, net, endpoints):
        return None


class QuietDriver(InertDriver):
    name = "quiet"


class NeedyDriver(InertDriver):
    name = "needy"
    requires = frozenset({"sriov"})


class WideDriver(InertDriver):
    name = "wide"
    scope = "global"


def registry_with_test_drivers() -> DriverRegistry:
    """The installed drivers plus the test-only ones above."""
    reg = DriverRegistry.from_entry_points()
    for cls in (QuietDriver, NeedyDriver, WideDriver):
        reg.register(cls.name, cls)
    return reg
