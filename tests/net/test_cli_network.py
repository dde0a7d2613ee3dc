"""`fabric network ...` and container networking end to end: CLI -> daemon -> kernel,
inside a throwaway lab host (the shared `host` fixture)."""

import json

from polling import wait_for


def ips(host, name: str) -> dict:
    nets = host.inspect(name)["NetworkSettings"]["Networks"]
    return {n: v["IPAddress"] for n, v in nets.items()}


def test_network_lifecycle_and_bad_input(host):
    ls = host.fab("network", "ls").out.splitlines()
    assert ls[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert sorted(line.split()[1] for line in ls[1:]) == ["bridge", "host", "none"]
    nid = host.fab("network", "create", "--subnet", "10.150.0.0/24", "--gateway",
                   "10.150.0.254", "-o", "com.docker.network.bridge.name=br150",
                   "app").out.strip()
    assert len(nid) == 64
    doc = json.loads(host.fab("network", "inspect", "app").out)[0]
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.150.0.0/24", "Gateway": "10.150.0.254"}]
    assert "inet 10.150.0.254/24" in host.sh("ip addr show br150").out
    for args, msg in [
        (["--subnet", "10.150.0.128/25", "x1"], "overlaps with network app"),
        (["--subnet", "10.151.0.0/24", "--gateway", "10.9.9.9", "x2"], "outside subnet"),
        (["-o", "bridge.name=abcdefghijklmnop", "x3"], "longer than 15"),
        (["-d", "nosuch", "x4"], "unknown network driver 'nosuch' (installed: bridge"),
        (["app"], "already exists"),
    ]:
        r = host.fab("network", "create", *args, check=False)
        assert r.code != 0 and msg in r.err and r.err.count("\n") == 1, r
    assert len(host.fab("network", "ls", "-q").out.split()) == 4
    host.fab("run", "-d", "--name", "c1", "--network", "app", "busybox", "sleep", "300")
    r = host.fab("network", "rm", "app", check=False)
    assert r.code != 0 and "has active endpoints (c1)" in r.err
    host.fab("rm", "-f", "c1")
    assert host.fab("network", "rm", "app").out == "app\n"
    assert "br150" not in host.sh("ip -o link").out


def test_explain_and_dry_run(host):
    r = host.fab("network", "create", "--dry-run", "--subnet", "10.152.0.0/24", "dry")
    assert "ip addr add 10.152.0.1/24 dev fab-" in r.out
    assert "dry" not in host.fab("network", "ls").out
    r = host.fab("network", "create", "--explain", "--subnet", "10.152.0.0/24", "wet")
    assert "type bridge" in r.err and len(r.out.strip()) == 64
    r = host.fab("network", "rm", "--explain", "wet")
    assert r.out == "wet\n" and "ip link del dev fab-" in r.err


def test_user_defined_network_resolves_names_and_aliases(host):
    host.fab("network", "create", "--subnet", "10.153.0.0/24", "lab")
    host.fab("run", "-d", "--name", "srv", "--network", "lab", "--network-alias", "api",
             "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "cli", "--network", "lab", "--ip", "10.153.0.77",
             "busybox", "sleep", "300")
    assert ips(host, "cli") == {"lab": "10.153.0.77"}
    hosts = host.fab("exec", "cli", "cat", "/etc/hosts").out
    assert "10.153.0.2\tsrv api\n" in hosts
    assert host.fab("exec", "cli", "ping", "-c1", "-W2", "api").code == 0
    assert "10.153.0.77\tcli\n" in host.fab("exec", "srv", "cat", "/etc/hosts").out
    r = host.fab("run", "-d", "--name", "dup", "--network", "lab", "--ip", "10.153.0.77",
                 "busybox", "sleep", "300", check=False)
    assert r.code != 0 and "address 10.153.0.77 is already in use on network lab" in r.err
    host.fab("rm", "-f", "cli")
    assert "cli" not in host.fab("exec", "srv", "cat", "/etc/hosts").out


def test_link_hosts_line_and_variables(host):
    host.fab("run", "-d", "--name", "db", "--expose", "5432", "-e", "PASSWORD=s3",
             "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "web", "--link", "db:data-base", "busybox", "sleep",
             "300")
    dbip = ips(host, "db")["bridge"]
    dbhost = host.inspect("db")["Config"]["Hostname"]
    assert f"{dbip}\tdata-base {dbhost} db\n" in host.fab("exec", "web", "cat",
                                                         "/etc/hosts").out
    env = host.fab("exec", "web", "env").out.splitlines()
    for var in (f"DATA_BASE_PORT=tcp://{dbip}:5432", "DATA_BASE_NAME=/web/data-base",
                f"DATA_BASE_PORT_5432_TCP_ADDR={dbip}", "DATA_BASE_ENV_PASSWORD=s3"):
        assert var in env
    assert not any(v.startswith("DATA_BASE_ENV_PATH=") for v in env)
    host.fab("stop", "-t", "0", "db")
    r = host.fab("run", "-d", "--name", "web2", "--link", "db", "busybox", "true",
                 check=False)
    assert r.code != 0 and "Cannot link to a non running container: /db AS /web2/db" in r.err


def test_connect_disconnect_running_container(host):
    host.fab("network", "create", "--subnet", "10.154.0.0/24", "side")
    host.fab("run", "-d", "--name", "c", "busybox", "sleep", "300")
    host.fab("network", "connect", "--ip", "10.154.0.9", "side", "c")
    assert ips(host, "c") == {"bridge": ips(host, "c")["bridge"], "side": "10.154.0.9"}
    assert "10.154.0.9/24" in host.fab("exec", "c", "ip", "-o", "addr", "show", "eth1").out
    host.fab("network", "disconnect", "side", "c")
    assert "eth1" not in host.fab("exec", "c", "ip", "-o", "link").out
    assert "side" not in ips(host, "c")
    host.fab("rm", "-f", "c")
    assert host.fab("network", "prune", "-f").out == "Deleted Networks:\nside\n"
    # the pair goes with the container's namespace, in the kernel's cleanup work
    wait_for(lambda: "fv" not in host.sh("ip -o link").out, timeout=5)


def test_several_subnets_kept_and_unusable_ranges_refused(host):
    nid = host.fab("network", "create", "--subnet", "10.163.0.0/30", "--subnet",
                   "10.164.0.0/24", "--gateway", "10.164.0.254", "--ip-range",
                   "10.164.0.128/25", "two").out.strip()
    doc = json.loads(host.fab("network", "inspect", "two").out)[0]
    assert doc["IPAM"]["Config"] == [
        {"Subnet": "10.163.0.0/30", "Gateway": "10.163.0.1"},
        {"Subnet": "10.164.0.0/24", "Gateway": "10.164.0.254", "IPRange": "10.164.0.128/25"}]
    br = "fab-" + nid[:10]
    out = host.sh(f"ip -o addr show {br}").out
    assert "10.163.0.1/30" in out and "10.164.0.254/24" in out
    host.fab("run", "-d", "--name", "first", "--network", "two", "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "next", "--network", "two", "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "fixed", "--network", "two", "--ip", "10.164.0.9",
             "busybox", "sleep", "300")
    assert ips(host, "first") == {"two": "10.163.0.2"}
    assert ips(host, "next") == {"two": "10.164.0.128"}      # the first subnet is full
    assert host.inspect("next")["NetworkSettings"]["Networks"]["two"]["Gateway"] == \
        "10.164.0.254"
    assert "default via 10.164.0.254" in host.fab("exec", "fixed", "ip", "route").out
    for args, msg in [
        (["--subnet", "224.0.0.0/24", "m"], "subnet 224.0.0.0/24 overlaps 224.0.0.0/4 "
                                            "(multicast): containers cannot use it"),
        (["--subnet", "127.0.0.0/24", "lo"], "127.0.0.0/8 (loopback)"),
        (["--subnet", "10.165.0.0/24", "--subnet", "10.168.0.0/24", "--gateway",
          "10.166.0.1", "g"], "no matching subnet for gateway 10.166.0.1"),
        (["--subnet", "10.165.0.0/16", "--subnet", "10.165.1.0/24", "o"],
         "multiple overlapping subnet configuration is not allowed"),
    ]:
        r = host.fab("network", "create", *args, check=False)
        assert r.code == 125 and msg in r.err and r.err.count("\n") == 1, r
    assert sorted(host.fab("network", "ls", "--format", "{{.Name}}").out.split()) == \
        ["bridge", "host", "none", "two"]
    host.fab("rm", "-f", "first", "next", "fixed")


def test_connect_names_the_broadcast_and_network_address(host):
    host.fab("network", "create", "--subnet", "10.167.0.0/24", "side")
    host.fab("run", "-d", "--name", "c", "busybox", "sleep", "300")
    for ip, what in (("10.167.0.255", "broadcast"), ("10.167.0.0", "network")):
        for args in (["network", "connect", "--ip", ip, "side", "c"],
                     ["run", "--rm", "--network", "side", "--ip", ip, "busybox", "true"]):
            r = host.fab(*args, check=False)
            assert r.code == 125 and r.err.count("\n") == 1 and \
                f"address {ip} is the {what} address of subnet 10.167.0.0/24" in r.err, r
    assert set(ips(host, "c")) == {"bridge"}
    host.fab("rm", "-f", "c")


def test_requested_mac_survives_a_stop_also_with_a_requested_address(host):
    host.fab("network", "create", "--subnet", "10.152.0.0/24", "macnet")
    for name, extra in (("with-ip", ["--ip", "10.152.0.50"]), ("mac-only", [])):
        host.fab("run", "-d", "--name", name, "--network", "macnet", "--mac-address",
                 "02:00:00:00:00:5e" if extra else "02:00:00:00:00:5f", *extra,
                 "busybox", "sleep", "300")
    for name, mac in (("with-ip", "02:00:00:00:00:5e"), ("mac-only", "02:00:00:00:00:5f")):
        host.fab("stop", "-t", "0", name)
        assert host.inspect(name)["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == mac
        host.fab("start", name)
        assert host.inspect(name)["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == mac
        assert mac in host.fab("exec", name, "cat", "/sys/class/net/eth0/address").out


def test_network_ls_filters_dangling_and_scope(host):
    host.fab("network", "create", "used")
    host.fab("network", "create", "idle")
    host.fab("run", "-d", "--name", "user", "--network", "used", "busybox", "sleep", "300")

    def names(*flt):
        return sorted(host.fab("network", "ls", "--format", "{{.Name}}",
                               *[a for f in flt for a in ("-f", f)]).out.split())
    assert names("dangling=true") == ["idle"]
    assert names("dangling=false") == ["bridge", "host", "none", "used"]
    assert names("scope=local") == ["bridge", "host", "idle", "none", "used"]
    assert names("scope=global") == []
    r = host.fab("network", "ls", "-f", "colour=blue", check=False)
    assert r.code == 125 and "Invalid filter 'colour'" in r.err
