"""`fabric firewall add|ls|rm`: a user's rule wins over fabric's accepts and survives
every re-render of fabric's tables."""


def _serve(host, name):
    host.fab("run", "-d", "--name", name, "busybox", "sh", "-c",
             "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    ip = host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).out.strip()
    assert ip.count(".") == 3, ip
    # httpd listens a moment after the container starts.
    r = host.fab("exec", name, "sh", "-c", "for i in $(seq 50); do "
                 "wget -q -O - http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1", check=False)
    assert r.out == "hi\n", r
    return ip


def _get(host, client, ip):
    # busybox-static 1.35 wget crashes with -T: bound it with timeout instead.
    return host.fab("exec", client, "timeout", "3", "wget", "-q", "-O", "-", f"http://{ip}/",
                    check=False)


def test_user_rule_drops_and_survives_rerender(host):
    ip = _serve(host, "web")
    host.fab("run", "-d", "--name", "cli", "busybox", "sleep", "300")
    cli_ip = host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "cli").out.strip()
    assert _get(host, "cli", ip).out == "hi\n"

    rid = host.fab("firewall", "add", "-s", cli_ip, "-d", ip, "-p", "tcp", "--dport", "80",
                   "-j", "DROP", "--comment", "block cli").out.strip()
    listing = host.fab("firewall", "ls").out
    assert rid in listing and "DROP" in listing and f"{cli_ip}/32" in listing
    assert _get(host, "cli", ip).code != 0

    # Another container starting re-renders fabric's tables; the rule must stay.
    host.fab("run", "-d", "--name", "third", "busybox", "sleep", "300")
    assert _get(host, "cli", ip).code != 0
    # The rule is exact: the third container still reaches the server.
    assert _get(host, "third", ip).out == "hi\n"

    assert host.fab("firewall", "rm", rid).out.strip() == rid
    assert host.fab("firewall", "ls", "-q").out == ""
    assert _get(host, "cli", ip).out == "hi\n"


def test_bad_rules_are_one_clear_line(host):
    for args, needle in ((["-j", "FOO"], "invalid action"),
                         (["--dport", "80", "-j", "DROP"], "--dport needs -p tcp"),
                         (["-s", "10.0.0.300", "-j", "DROP"], "invalid source"),
                         (["-p", "gre", "-j", "DROP"], "invalid protocol")):
        r = host.fab("firewall", "add", *args, check=False)
        assert r.code == 125
        assert needle in r.err and len(r.err.strip().splitlines()) == 1
    assert host.fab("firewall", "ls", "-q").out == ""
    r = host.fab("firewall", "rm", "nosuchrule", check=False)
    assert r.code != 0 and "no such firewall rule" in r.err
