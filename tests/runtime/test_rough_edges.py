"""Rough edges a hostile test found (issue 10): loose input Docker refuses, `exec -d`,
racing `rm -f`. Each refusal is one line, exit 125, and leaves nothing behind."""

import time

from helpers import status, wait_for


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
