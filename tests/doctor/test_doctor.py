"""`fabric doctor` on a host: each finding made on purpose in the host's namespace,
reported in one line with its fix, then repaired by `--fix` where fabric owns it and
left (and still reported) where it does not."""

import json
import uuid


def doctor(host, *args: str) -> tuple[int, dict]:
    r = host.fab("doctor", "--json", *args, check=False)
    assert r.code in (0, 1), r
    doc = json.loads(r.out)
    return r.code, doc


def checks(doc: dict, fixed: bool | None = None) -> list[str]:
    return sorted(f["check"] for f in doc["Findings"] if fixed is None or f["fixed"] == fixed)


def ping(host, src: str, dst_ip: str) -> bool:
    return host.fab("exec", src, "ping", "-c", "1", "-W", "1", dst_ip, check=False).code == 0


def test_docker_forward_drop_found_and_fabrics_rule_put_back(host):
    host.fab("run", "-d", "--name", "a", "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "b", "busybox", "sleep", "300")
    b = host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "b").out.strip()
    code, doc = doctor(host)
    assert code == 0 and doc["Findings"] == [], doc
    assert host.fab("doctor").out == f"host {doc['Host']}: nothing found\n"
    # what dockerd does when it starts after fabric: its chain, jumped to first, and
    # FORWARD's policy DROP; br_netfilter hands bridged frames to it too
    host.sh("iptables -N DOCKER-USER && iptables -I FORWARD -j DOCKER-USER && "
            "iptables -P FORWARD DROP")
    assert not ping(host, "a", b)
    r = host.fab("doctor", check=False)
    assert r.code == 1
    assert r.out.startswith("Docker's FORWARD policy is DROP and fabric's rule in DOCKER-USER "
                            "is missing: what containers of bridge forward is dropped "
                            "(br_netfilter is on: traffic bridged between them too); fix: "
                            "iptables -w -I DOCKER-USER -m mark --mark"), r.out
    code, doc = doctor(host, "--fix")
    assert code == 0 and checks(doc, fixed=True) == ["docker-user"], doc
    assert ping(host, "a", b)
    # a drop policy that is not Docker's is reported and left to its owner
    host.sh("nft 'add table inet filter; add chain inet filter forward "
            "{ type filter hook forward priority 0; policy drop; }'")
    code, doc = doctor(host, "--fix")
    assert code == 1 and checks(doc) == ["forward-drop"], doc
    f = doc["Findings"][0]
    assert not f["fixable"] and not f["fixed"]
    assert f["fix"] == "nft 'chain inet filter forward { policy accept; }'"
    host.sh(f["fix"])
    assert doctor(host)[0] == 0


def test_ip_forward_off_is_turned_back_on(host):
    host.fab("run", "-d", "--name", "a", "busybox", "sleep", "300")
    host.sh("sysctl -qw net.ipv4.ip_forward=0")
    code, doc = doctor(host)
    assert code == 1 and checks(doc) == ["ip-forward"]
    assert doc["Findings"][0]["fix"] == "sysctl -w net.ipv4.ip_forward=1"
    code, doc = doctor(host, "--fix")
    assert code == 0 and checks(doc, fixed=True) == ["ip-forward"]
    assert host.sh("cat /proc/sys/net/ipv4/ip_forward").out.strip() == "1"


def test_routes_and_addresses_over_a_network_are_reported_and_left(host):
    host.fab("network", "create", "--subnet", "10.61.0.0/24", "labnet")
    host.sh("ip link add fdlan0 type veth peer name fdlan1 && ip link set fdlan0 up && "
            "ip addr add 192.0.2.1/24 dev fdlan0 && "
            "ip route add 10.61.0.128/25 via 192.0.2.2 && "
            "ip addr add 10.61.0.200/24 dev fdlan1 && ip route add 10.0.0.0/8 via 192.0.2.2")
    code, doc = doctor(host, "--fix")
    assert code == 1 and checks(doc) == ["overlap", "overlap"], doc
    what = [f["what"] for f in doc["Findings"]]
    assert what[0].startswith("route 10.61.0.128/25 via 192.0.2.2 dev fdlan0 (proto 3, not "
                              "fabric's) takes 10.61.0.128/25 of network labnet's "
                              "10.61.0.0/24 away"), what
    assert what[1].startswith("address 10.61.0.200/24 on fdlan1 overlaps network labnet's "
                              "10.61.0.0/24")
    assert [f["fix"] for f in doc["Findings"]] == [
        "ip route del 10.61.0.128/25 via 192.0.2.2 dev fdlan0", "ip addr del 10.61.0.200/24 "
        "dev fdlan1"]
    assert "10.61.0.128/25" in host.sh("ip route").out     # left: not fabric's


def test_drifted_firewall_is_rendered_again(host):
    host.fab("run", "-d", "--name", "a", "busybox", "sleep", "300")
    host.sh("nft delete table inet fabric")
    code, doc = doctor(host)
    assert code == 1 and checks(doc) == ["firewall"]
    assert doc["Findings"][0]["what"] == ("fabric's nftables rules differ from the store: "
                                          "table inet fabric is missing")
    host.sh("nft flush chain bridge fabric icc")
    code, doc = doctor(host, "--fix")
    assert code == 0 and checks(doc, fixed=True) == ["firewall"]
    assert 'comment "icc=false"' in host.sh("nft list table bridge fabric").out
    assert "table inet fabric" in host.sh("nft list tables").out


def test_orphans_with_fabrics_tags_are_removed(host):
    host.fab("run", "-d", "--name", "a", "busybox", "sleep", "300")
    net = host.fab("network", "inspect", "-f", "{{.Id}}", "bridge").out.strip()[:12]
    ns = f"fabc-{uuid.uuid4().hex[:12]}"
    # a container's namespace and veth a crash left: the veth tagged for an endpoint the
    # store does not hold; a route of fabric's protocol to nowhere it knows
    host.sh(f"ip netns add {ns} && ip link add fvdead0000001 type veth peer name eth0 "
            f"netns {ns} && ip link set fvdead0000001 alias fabric:{net}:0123456789ab && "
            "ip link add fdlan0 type veth peer name fdlan1 && ip link set fdlan0 up && "
            "ip addr add 192.0.2.1/24 dev fdlan0 && "
            "ip route add 10.99.0.0/24 via 192.0.2.2 proto 251")
    try:
        code, doc = doctor(host)
        assert code == 1, doc
        assert checks(doc) == ["orphan-interface", "orphan-netns", "orphan-route"], doc
        fixes = {f["check"]: f["fix"] for f in doc["Findings"]}
        assert fixes == {"orphan-interface": "ip link del dev fvdead0000001",
                         "orphan-netns": f"ip netns del {ns}",
                         "orphan-route": "ip route del 10.99.0.0/24 via 192.0.2.2 dev fdlan0 "
                                         "proto 251"}
        # the container's own veth and namespace are its, not orphans
        code, doc = doctor(host, "--fix")
        assert code == 0, doc
        assert "fvdead0000001" not in host.sh("ip link").out
        assert "10.99.0.0" not in host.sh("ip route").out
        assert ns not in host.sh("ip netns list").out
        assert host.fab("exec", "a", "true", check=False).code == 0
    finally:
        host.sh(f"ip netns del {ns}", check=False)
