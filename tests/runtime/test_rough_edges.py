"""Rough edges a hostile test found (issue 10): loose input Docker refuses, `exec -d`,
racing `rm -f`. Each refusal is one line, exit 125, and leaves nothing behind."""

import time

from helpers import assert_clean, status, wait_for


def _refused(host, *args: str, says: str) -> None:
    r = host.fab(*args, check=False)
    assert r.code == 125, r
    assert says in r.err and r.err.count("\n") == 1, r
    assert host.fab("ps", "-aq").out == ""


def test_stop_signal_checked_at_create(host):
    _refused(host, "create", "--stop-signal", "BOGUS", "busybox", says="Invalid signal: BOGUS")
    _refused(host, "run", "-d", "--stop-signal", "0", "busybox", "sleep", "1",
             says="Invalid signal: 0")
    # Docker's spellings: with or without SIG, a number, a real-time offset
    for sig in ("SIGUSR1", "usr1", "10", "RTMIN+3"):
        host.fab("create", "--name", f"s{sig.replace('+', '')}", "--stop-signal", sig, "busybox")
    host.fab("run", "-d", "--name", "u", "--stop-signal", "USR1", "busybox", "sh", "-c",
             "trap 'exit 3' USR1; while true; do sleep 0.1; done")
    wait_for(lambda: status(host, "u") == "running")
    time.sleep(0.3)  # the trap is set
    host.fab("stop", "u")
    assert host.fab("inspect", "-f", "{{.State.ExitCode}}", "u").out == "3\n"


def test_mount_over_root_refused(host, tmp_path):
    says = "destination can't be '/'"
    for spec in ("-v", f"{tmp_path}:/"), ("-v", f"{tmp_path}:/x/../.."), \
            ("--mount", f"type=bind,source={tmp_path},target=/"):
        _refused(host, "run", "--rm", *spec, "busybox", "true", says=says)
    # a destination is kept as Docker keeps it: cleaned
    host.fab("create", "--name", "m", "-v", f"{tmp_path}:/a/./b/../c/", "busybox")
    assert host.fab("inspect", "-f", "{{range .Mounts}}{{.Destination}}{{end}}", "m").out == \
        "/a/c\n"


def test_loose_environment_refused(host, tmp_path):
    _refused(host, "run", "--rm", "-e", "", "busybox", "true",
             says='invalid argument "" for "-e, --env" flag: invalid environment variable: ')
    _refused(host, "run", "--rm", "-e", "=x", "busybox", "true",
             says="invalid environment variable: =x")
    envf = tmp_path / "env"
    envf.write_text("OK=1\nA B=1\n")
    _refused(host, "run", "--rm", "--env-file", str(envf), "busybox", "true",
             says="poorly formatted environment: variable 'A B' contains whitespaces")
    # Docker's reading otherwise: values are passed through untrimmed, leading blanks
    # before a name go, a bare name takes the client's own value or is left out
    envf.write_text("  LEAD=x  \nFROM_CLIENT\nNOT_SET_ANYWHERE_X\n# comment\n")
    out = host.fab("run", "--rm", "--env-file", str(envf), "busybox", "sh", "-c",
                   'echo "[$LEAD]"; echo "${FROM_CLIENT:-unset}"; env | grep -c NOT_SET || true',
                   input=None).out
    assert out.splitlines()[0] == "[x  ]"
    assert out.splitlines()[2] == "0"


def test_ip_without_a_user_network_refused(host):
    _refused(host, "run", "--rm", "--network", "none", "--ip", "10.88.0.50", "busybox", "true",
             says="user specified IP address is supported on user defined networks only")
    _refused(host, "run", "--rm", "--network", "host", "--ip", "10.88.0.50", "busybox", "true",
             says="user specified IP address is supported on user defined networks only")
    assert_clean(host)


def test_exec_detached_returns_at_once(host):
    host.fab("run", "-d", "--name", "e", "busybox", "sleep", "300")
    t0 = time.monotonic()
    r = host.fab("exec", "-d", "e", "sh", "-c", "echo out; echo err >&2; sleep 20", timeout=30)
    took = time.monotonic() - t0
    assert (r.code, r.out, r.err) == (0, "", ""), r
    assert took < 5, took
    assert "sleep 20" in host.fab("exec", "e", "ps", "-o", "args").out
    r = host.fab("exec", "-d", "e", "nosuchcmd", check=False)
    assert r.code == 126 or r.code == 127 or "executable file not found" in r.err, r
