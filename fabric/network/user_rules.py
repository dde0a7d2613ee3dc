"""Users' own firewall rules (`fabric firewall add|ls|rm`), kept in the store and
rendered ahead of fabric's rules on every re-render, like Docker's DOCKER-USER chain."""

import ipaddress
import json
import secrets

from fabric.errors import InvalidArgument, NotFound

ACTIONS = {"accept": "accept", "drop": "drop", "reject": "reject"}
PROTOS = ("tcp", "udp", "icmp")


def validate(body: dict) -> dict:
    """Docker-ish spelling in, one normalised rule out; bad input is one clear line."""
    action = str(body.get("action") or body.get("jump") or "").lower()
    if action not in ACTIONS:
        raise InvalidArgument(f"invalid action {action!r}: use -j ACCEPT, DROP or REJECT")
    rule: dict[str, str | int | None] = {
        "action": ACTIONS[action], "src": None, "dst": None, "proto": None, "dport": None,
        "comment": str(body.get("comment") or "")}
    for key in ("src", "dst"):
        v = body.get(key)
        if v:
            try:
                rule[key] = str(ipaddress.ip_network(v, strict=False))
            except ValueError:
                raise InvalidArgument(f"invalid {'source' if key == 'src' else 'destination'} "
                                      f"{v!r}: use an IPv4 address or CIDR") from None
            if ipaddress.ip_network(v, strict=False).version != 4:
                raise InvalidArgument(f"{v!r}: only IPv4 rules are supported")
    proto = body.get("proto")
    if proto:
        proto = str(proto).lower()
        if proto not in PROTOS:
            raise InvalidArgument(f"invalid protocol {proto!r}: use tcp, udp or icmp")
        rule["proto"] = proto
    dport = body.get("dport")
    if dport not in (None, ""):
        try:
            dport = int(dport)
        except (TypeError, ValueError):
            raise InvalidArgument(f"invalid --dport {dport!r}: use a port number") from None
        if not 0 < dport < 65536:
            raise InvalidArgument(f"invalid --dport {dport}: ports are 1-65535")
        if rule["proto"] not in ("tcp", "udp"):
            raise InvalidArgument("--dport needs -p tcp or -p udp")
        rule["dport"] = dport
    return rule


class UserRules:
    """The rules in the host's store, in order."""

    def __init__(self, store):
        self.store = store

    def list(self) -> list[dict]:
        return [dict(json.loads(r["doc"]), position=r["position"]) for r in
                self.store.query("SELECT position, doc FROM firewall_rules ORDER BY position")]

    def add(self, body: dict) -> dict:
        rule = validate(body)
        rule["id"] = secrets.token_hex(6)
        pos = body.get("position")
        with self.store.tx() as c:
            rows = c.execute("SELECT id FROM firewall_rules ORDER BY position").fetchall()
            ids = [r["id"] for r in rows]
            if pos in (None, ""):
                ids.append(rule["id"])
            else:
                try:
                    at = max(1, int(pos))
                except ValueError:
                    raise InvalidArgument(f"invalid position {pos!r}: use a number") from None
                ids.insert(at - 1, rule["id"])
            c.execute("INSERT INTO firewall_rules(id, position, doc) VALUES (?, 0, ?)",
                      (rule["id"], json.dumps(rule)))
            for i, rid in enumerate(ids, start=1):
                c.execute("UPDATE firewall_rules SET position=? WHERE id=?", (i, rid))
        return rule

    def find(self, ref: str) -> dict:
        rows = self.list()
        # an exact id or position before an id prefix, as for containers
        hit = [r for r in rows if ref in (r["id"], str(r["position"]))] or \
            [r for r in rows if len(ref) >= 3 and r["id"].startswith(ref)]
        if len(hit) != 1:
            raise NotFound(f"no such firewall rule: {ref} (see `fabric firewall ls`)")
        return hit[0]

    def remove(self, ref: str) -> dict:
        hit = self.find(ref)
        with self.store.tx() as c:
            c.execute("DELETE FROM firewall_rules WHERE id=?", (hit["id"],))
            rest = c.execute("SELECT id FROM firewall_rules ORDER BY position").fetchall()
            for i, r in enumerate(rest, start=1):
                c.execute("UPDATE firewall_rules SET position=? WHERE id=?", (i, r["id"]))
        return hit
