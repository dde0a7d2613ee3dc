"""Health checks as Docker runs them: `--health-*` and the image's HEALTHCHECK, starting
-> healthy -> unhealthy, the start period, the timeout that kills a check, the log of
the last five results, `ps` and its `health` filter, `inspect`, `/events`, and a
daemon restart that keeps the checker going. Intervals are short so that it is quick."""

import json
import time

from helpers import wait_for

FAST = ["--health-interval", "200ms", "--health-retries", "2"]


def health(host, name: str) -> dict:
    return json.loads(host.fab("inspect", "-f", "{{json .State.Health}}", name).out)


def status_of(host, name: str) -> str:
    return (health(host, name) or {}).get("Status", "")


def ps_status(host, *flags: str) -> dict[str, str]:
    out = host.fab("ps", *flags, "--format", "{{.Names}}\t{{.Status}}").out
    return dict(line.split("\t") for line in out.splitlines())


def test_healthy_then_unhealthy_in_ps_inspect_and_events(host):
    host.fab("ps")
    t0 = time.time()
    # its check passes once the service is ready, 2 s in; failures before count for
    # nothing (the start period)
    host.fab("run", "-d", "--name", "web", "--health-cmd", "test -e /tmp/ok && echo fine",
             *FAST, "--health-start-period", "10s", "busybox", "sh", "-c",
             "sleep 2; touch /tmp/ok; exec sleep 1d")
    assert status_of(host, "web") == "starting"
    assert ps_status(host)["web"].endswith("(health: starting)")
    # a check's output is cut at 4096 bytes as Docker cuts it, with "..." after it
    host.fab("run", "-d", "--name", "loud", "--health-cmd",
             "head -c 5000 /dev/zero | tr '\\0' a", "--health-interval", "200ms",
             "busybox", "sleep", "1d")
    wait_for(lambda: status_of(host, "web") == "healthy", timeout=10)
    assert ps_status(host)["web"].endswith("(healthy)")
    h = health(host, "web")
    assert h["FailingStreak"] == 0
    last = h["Log"][-1]
    assert last["ExitCode"] == 0 and last["Output"] == "fine\n"
    assert last["Start"] <= last["End"]

    host.fab("exec", "web", "rm", "/tmp/ok")
    wait_for(lambda: status_of(host, "web") == "unhealthy", timeout=10)
    h = health(host, "web")
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
    wait_for(lambda: len(health(host, "web")["Log"]) == 5, timeout=10)
    time.sleep(0.5)
    assert len(health(host, "web")["Log"]) == 5      # the last five only
    assert ps_status(host)["web"].endswith("(unhealthy)")
    assert list(ps_status(host, "-f", "health=unhealthy")) == ["web"]
    assert list(ps_status(host, "-f", "health=healthy")) == ["loud"]
    assert ps_status(host, "-f", "health=none") == {}
    bad = host.fab("ps", "-f", "health=sick", check=False)
    assert bad.code != 0 and "Unrecognised filter value for health: sick" in bad.err

    loud = health(host, "loud")["Log"][-1]["Output"]
    assert len(loud) == 4096 + 3 and loud.endswith("a...")

    events = host.fab("events", "--since", str(t0), "--until", str(time.time()),
                      "-f", "event=health_status",
                      "--format", "{{.Actor.Attributes.name}} {{.Action}}").out.splitlines()
    assert sorted(events) == ["loud health_status: healthy", "web health_status: healthy",
                              "web health_status: unhealthy"], events
    assert events.index("web health_status: healthy") < \
        events.index("web health_status: unhealthy")

    # stopped: Docker reports unhealthy; started again: starting, the old log kept
    host.fab("exec", "web", "touch", "/tmp/ok")
    host.fab("stop", "-t", "0", "web")
    assert status_of(host, "web") == "unhealthy"
    host.fab("start", "web")
    h = health(host, "web")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0 and len(h["Log"]) == 5
    wait_for(lambda: status_of(host, "web") == "healthy", timeout=10)


def test_start_period_and_a_timeout_that_kills_the_check(host):
    host.fab("run", "-d", "--name", "slow", "--health-cmd", "false",
             "--health-start-period", "2s", "--health-interval", "200ms",
             "--health-retries", "1", "busybox", "sleep", "1d")
    host.fab("run", "-d", "--name", "stuck", "--health-cmd", "sleep 30; echo late",
             "--health-timeout", "300ms", "--health-interval", "200ms", "--health-retries",
             "1", "busybox", "sleep", "1d")
    # failures inside the start period count for nothing
    wait_for(lambda: len(health(host, "slow")["Log"]) >= 2, timeout=10)
    h = health(host, "slow")
    if time.time() - _started(host, "slow") < 1.8:
        assert h["Status"] == "starting" and h["FailingStreak"] == 0, h
        assert ps_status(host)["slow"].endswith("(health: starting)")
    wait_for(lambda: status_of(host, "slow") == "unhealthy", timeout=10)
    assert health(host, "slow")["FailingStreak"] == 1

    wait_for(lambda: status_of(host, "stuck") == "unhealthy", timeout=10)
    last = health(host, "stuck")["Log"][-1]
    assert last["ExitCode"] == -1
    assert last["Output"] == "Health check exceeded timeout (300ms)"
    # each check's processes were killed at its timeout: at most the one under way runs
    ps = host.fab("exec", "stuck", "ps", "-o", "stat,args").out.splitlines()
    live = [ln for ln in ps if ln.endswith("sleep 30") and not ln.startswith("Z")]
    assert len(health(host, "stuck")["Log"]) >= 2 and len(live) <= 1, ps


def _started(host, name: str) -> float:
    from datetime import datetime
    text = host.fab("inspect", "-f", "{{.State.StartedAt}}", name).out.strip()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_image_healthcheck_and_no_healthcheck(host, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD [\"cat\", \"/etc/hostname\"]\n")
    host.fab("build", "-q", "-t", "checked:1", str(tmp_path))
    host.fab("run", "-d", "--name", "img", "checked:1", "sleep", "1d")
    host.fab("run", "-d", "--name", "off", "--no-healthcheck", "checked:1", "sleep", "1d")
    # a flag overrides one field of the image's check, the rest stays the image's
    host.fab("run", "-d", "--name", "mixed", "--health-retries", "4", "checked:1",
             "sleep", "1d")
    wait_for(lambda: status_of(host, "img") == "healthy", timeout=10)
    assert health(host, "img")["Log"][-1]["Output"].strip() == \
        host.fab("inspect", "-f", "{{.Config.Hostname}}", "img").out.strip()
    assert health(host, "off") is None
    assert host.inspect("off")["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert "(" not in ps_status(host)["off"]
    assert host.inspect("mixed")["Config"]["Healthcheck"] == {
        "Test": ["CMD", "cat", "/etc/hostname"], "Interval": 200_000_000, "Timeout": 0,
        "StartPeriod": 0, "Retries": 4}
    assert list(ps_status(host, "-f", "health=none")) == ["off"]


def test_the_checker_survives_a_daemon_restart(host):
    host.fab("run", "-d", "--name", "kept", "--health-cmd", "test -e /tmp/ok",
             "--health-interval", "500ms", "--health-retries", "2",
             "busybox", "sh", "-c", "touch /tmp/ok; exec sleep 1d")
    wait_for(lambda: status_of(host, "kept") == "healthy", timeout=10)
    before = health(host, "kept")["Log"]
    host.kill_daemon()
    host.fab("exec", "kept", "rm", "/tmp/ok")     # starts the daemon again
    wait_for(lambda: status_of(host, "kept") == "unhealthy", timeout=10)
    assert before[-1] in health(host, "kept")["Log"]    # the log went on, not anew


def test_bad_health_options(host):
    r = host.fab("run", "--rm", "--health-interval", "soon", "busybox", "true", check=False)
    assert r.code == 125 and \
        'invalid argument "soon" for "--health-interval" flag: time: invalid duration ' \
        '"soon"' in r.err
    r = host.fab("run", "--rm", "--no-healthcheck", "--health-cmd", "true", "busybox", "true",
                 check=False)
    assert r.code == 125 and "--no-healthcheck conflicts with --health-* options" in r.err
    api = host.api()
    resp = api.request("POST", "/containers/create", None,
                       {"Image": "busybox", "Cmd": ["true"],
                        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000}})
    assert resp.status == 400
    assert "Interval in Healthcheck cannot be less than 1ms" in resp.json()["message"]
    resp = api.request("POST", "/containers/create", None,
                       {"Image": "busybox", "Cmd": ["true"], "Healthcheck": {"Test": ["HTTP"]}})
    assert resp.status == 400 and "unknown Healthcheck type 'HTTP'" in resp.json()["message"]
    assert host.fab("ps", "-aq").out == ""
