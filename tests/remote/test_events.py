"""GET /events: `fabric events` and `docker events` print what happened, as Docker
prints it, from a time in the past and as it happens."""

import subprocess
import time

from dockerclients import DOCKER, need, run


def test_events_past_and_live(host):
    need(DOCKER, "docker.io")
    host.fab("ps")
    t0 = str(time.time())
    host.fab("network", "create", "evnet")
    cid = host.fab("run", "-d", "--network", "evnet", "--name", "ev", "-l", "team=a",
                   "busybox", "sleep", "300").out.strip()
    host.fab("rm", "-f", "ev")
    host.fab("network", "rm", "evnet")
    t1 = str(time.time())
    lines = host.fab("events", "--since", t0, "--until", t1).out.splitlines()
    what = [" ".join(line.split()[1:3]) for line in lines]
    assert what == ["network create", "container create", "network connect",
                    "container start", "container kill", "container die",
                    "network disconnect", "container destroy", "network destroy"], lines
    assert lines[1].endswith(f"{cid} (image=busybox, name=ev, team=a)")
    # the docker CLI reads the same stream, filters applied by the daemon
    env = {"DOCKER_HOST": f"unix://{host.host.socket}", "PATH": "/usr/bin:/bin"}
    out = run([DOCKER, "events", "--since", t0, "--until", t1, "-f", "type=container",
               "-f", "label=team=a", "--format", "{{.Action}}"], env).out.split()
    assert out == ["create", "start", "kill", "die", "destroy"]
    # volumes and images too
    host.fab("volume", "create", "evvol")
    host.fab("volume", "rm", "evvol")
    host.fab("tag", "busybox", "evimg:1")
    host.fab("rmi", "evimg:1")
    out = run([DOCKER, "events", "--since", t1, "--until", str(time.time()), "--format",
               "{{.Type}} {{.Action}} {{.Actor.ID}}"], env).out.splitlines()
    assert [" ".join(line.split()[:2]) for line in out] == \
        ["volume create", "volume destroy", "image tag", "image untag"]
    assert out[0].endswith(" evvol")
    # following: an event arrives while the command waits
    follow = host.popen("events", "-f", "event=start", "--format", "{{.Actor.Attributes.name}}",
                        stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        host.fab("run", "--rm", "--name", "live", "busybox", "true")
        assert follow.stdout.readline() == "live\n"
    finally:
        follow.kill()
        follow.wait()
