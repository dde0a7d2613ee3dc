"""Endpoints: one container on one network, recorded and wired by its driver.

An endpoint's address comes from its network's allocator in the same step that records
it; the driver's join plan runs next, and when it fails the record goes again, so the
store never keeps an endpoint the kernel lacks.
"""

import logging
import secrets
from collections.abc import Iterable

from fabric.errors import FabricError, InvalidArgument
from fabric.network import ipam
from fabric.network.model import Endpoint, host_ifname
from fabric.network.requests import EndpointRequest, Member, Ports
from fabric.network.service import BUILTIN, NetworkService
from fabric.network.store import subnets_of

log = logging.getLogger(__name__)


def as_model(rec: dict) -> Endpoint:
    """An endpoint record as drivers see it."""
    return Endpoint(id=rec["id"], network_id=rec["network_id"],
                    container_id=rec["container_id"], ifname=rec["ifname"],
                    address=rec["address"], mac=rec["mac"], gateway=rec.get("gateway"),
                    aliases=tuple(rec.get("aliases") or ()))


def check(net: dict, req: EndpointRequest) -> None:
    """Docker's rules for per-network settings (--ip, --alias, --mac-address)."""
    user_defined = not net.get("default") and net["name"] not in BUILTIN
    if req.ip and not user_defined:
        raise InvalidArgument("user specified IP address is supported on user defined "
                              "networks only")
    if req.aliases and not user_defined:
        raise InvalidArgument("network-scoped alias is supported only for containers in "
                              "user defined networks")
    if req.ip:
        addr = ipam.parse_address(req.ip, "--ip address")
        subnets = subnets_of(net)
        where = f" of network {net['name']}"
        holder = ipam.holding(subnets, str(addr)) or (subnets[0] if len(subnets) == 1 else None)
        if holder is not None:
            ipam.check_requested(holder, addr, where)
        elif subnets:
            raise InvalidArgument(f"address {req.ip} is outside subnets "
                                  f"{', '.join(s.subnet for s in subnets)}{where}")
    if req.mac:
        ipam.parse_mac(req.mac)


def next_slot(mine: Iterable[dict]) -> tuple[str, bool]:
    """Where a container's next endpoint goes: the lowest free ethN, and whether it may
    carry the default route (none of the others does)."""
    mine = list(mine)
    used = {e["ifname"] for e in mine}
    ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
    return ifname, not any(e.get("gateway") for e in mine)


class Endpoints:
    def __init__(self, svc: NetworkService):
        self.svc = svc

    def join(self, member: Member, net: dict, req: EndpointRequest, netns: str, ifname: str,
             may_route: bool, ports: Ports, prefer: str | None = None) -> dict:
        """Record the endpoint with its address, then have the driver wire it; in a dry
        run nothing is recorded and the plan is only described. `prefer`: the address
        to take when it is free and none was asked for (the one `inspect` showed)."""
        svc = self.svc
        model = svc.model(net)
        route = may_route and bool(model.ipam) and not model.internal
        epid = secrets.token_hex(32)

        def record(address: str) -> dict:
            # the gateway of the subnet the address came from
            s = ipam.holding(model.ipam, address) if address else None
            return {"id": epid, "network_id": net["id"], "container_id": member.container_id,
                    "container_name": member.name, "hostname": member.hostname,
                    "ifname": ifname, "address": address, "host_ifname": host_ifname(epid),
                    "mac": ipam.parse_mac(req.mac) if req.mac
                    else ipam.mac_from_ip(address) if address else "",
                    "gateway": s.gateway if route and s else None,
                    "aliases": list(req.aliases), "links": [list(x) for x in member.links],
                    "exposed": [list(x) for x in member.exposed], "ports": ports}

        allocator = svc.allocator_for(net)
        if svc.dry_run:
            ep = record(allocator.preview(net, req.ip))
        else:
            ep = self._assign(net, member.container_id, req.ip or prefer, record,
                              fallback=prefer is not None and not req.ip)
        try:
            self.wire(net, ep, netns)
        except BaseException:
            if not svc.dry_run:
                allocator.release(net, epid)
            raise
        return ep

    def _assign(self, net: dict, container_id: str, requested: str | None,
                make_record, fallback: bool) -> dict:
        allocator = self.svc.allocator_for(net)
        try:
            return allocator.assign(net, container_id, requested, make_record)
        except FabricError:
            if not fallback:
                raise
            return allocator.assign(net, container_id, None, make_record)

    def wire(self, net: dict, ep: dict, netns: str) -> None:
        """Have the driver wire a recorded endpoint (again: its plan is idempotent)."""
        svc = self.svc
        svc.run(svc.driver(net["driver"]).plan_join(svc.model(net), as_model(ep), netns))

    def leave(self, ep: dict, netns: str | None, quiet: bool = False,
              sandbox_ending: bool = False) -> str | None:
        """Unwire the endpoint and forget it. A failing plan keeps the record (the
        endpoint is still there, as far as anyone knows) and raises; with `quiet` the
        record goes anyway and the failure is logged and returned."""
        svc = self.svc
        net = svc.find_network(ep["network_id"])
        error = None
        try:
            if net is not None and svc.has_driver(net):
                svc.run(svc.driver(net["driver"]).plan_leave(
                    svc.model(net), as_model(ep), netns or "", sandbox_ending))
        except FabricError as e:
            if not quiet:
                raise
            log.warning("leaving %s: %s", ep["host_ifname"], e)
            error = str(e)
        if not svc.dry_run:
            if net is None:
                svc.records.delete_endpoint(ep["id"])
            else:
                svc.allocator_for(net).release(net, ep["id"])
        return error
