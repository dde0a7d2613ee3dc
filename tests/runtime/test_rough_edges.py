"""Rough edges a hostile test found (issue 10): loose input Docker refuses, `exec -d`,
racing `rm -f`. Each refusal is one line, exit 125, and leaves nothing behind."""

import threading
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


def test_parallel_force_removal_one_success(host):
    """Eight `rm -f` at once through the API, then through the CLI: exactly one
    succeeds, as with Docker, and every error names the container as it was typed."""
    api = host.api()

    def remove(barrier: threading.Barrier, answers: list[tuple[int, str]]) -> None:
        barrier.wait()
        resp = api.request("DELETE", "/containers/r", {"force": True})
        answers.append((resp.status, resp.read().decode()))
    for round_ in range(3):
        cid = host.fab("run", "-d", "--name", "r", "busybox", "sleep", "300").out.strip()
        barrier = threading.Barrier(8)
        answers: list[tuple[int, str]] = []
        threads = [threading.Thread(target=remove, args=(barrier, answers)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(s for s, _ in answers).count(204) == 1, (round_, answers)
        for s, body in answers:
            assert s in (204, 404, 409), answers
            if s != 204:
                assert cid not in body and ("No such container: r" in body or
                                            "removal of container r is already in progress"
                                            in body), answers
    host.fab("run", "-d", "--name", "r", "busybox", "sleep", "300")
    procs = [host.popen("rm", "-f", "r", stdout=-1, stderr=-1, text=True) for _ in range(8)]
    results = [(p.wait(30), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results].count(0) == 1, results
    for code, out, err in results:
        assert (out == "r\n") if code == 0 else (code == 1 and out == "" and ": r" in err), results
    assert_clean(host)
