"""Debian's docker-compose 1.29 brings up, lists, scales and takes down a project with
two services, a user network, a published port and a volume."""

import time

from dockerclients import COMPOSE, clean_env, need, run

PROJECT = """
version: "3.8"
services:
  web:
    image: busybox
    command: sh -c "echo served > /www/index.html; exec httpd -f -p 80 -h /www"
    ports: ["8088:80"]
    volumes: ["site:/www"]
    networks: [back]
  client:
    image: busybox
    command: sleep 3600
    networks: [back]
networks:
  back: {}
volumes:
  site: {}
"""


def test_up_ps_scale_down(host, tmp_path):
    need(COMPOSE, "docker-compose")
    host.fab("ps")
    (tmp_path / "docker-compose.yml").write_text(PROJECT)
    env = clean_env(DOCKER_HOST=f"unix://{host.host.socket}",
                    DOCKER_CONFIG=str(tmp_path / "cfg"))

    def compose(*args: str):
        return run([COMPOSE, "-p", "lab", *args], env, cwd=str(tmp_path), timeout=60)

    compose("up", "-d")
    ps = compose("ps").out
    assert "lab_web_1" in ps and "lab_client_1" in ps and "0.0.0.0:8088->80/tcp" in ps
    # names resolve between the services on the project's network
    out = compose("exec", "-T", "client", "sh", "-c",
                  "for i in 1 2 3 4 5 6 7 8 9 10; do "
                  "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc web 80 && break; sleep 0.3; done").out
    assert out.endswith("served\n"), out
    compose("up", "-d", "--scale", "client=3")
    names = host.fab("ps", "--format", "{{.Names}}").out.split()
    assert sorted(names) == ["lab_client_1", "lab_client_2", "lab_client_3", "lab_web_1"]
    assert host.fab("network", "ls", "-q", "-f", "name=lab_back").out.strip()
    compose("down", "-v", "-t", "1")
    assert host.fab("ps", "-aq").out == ""
    assert host.fab("network", "ls", "-q", "-f", "name=lab_back").out == ""
    assert host.fab("volume", "ls", "-q").out == ""


HEALTHY = """
version: "2.4"
services:
  db:
    image: busybox
    command: sh -c "sleep 1; touch /tmp/ready; exec sleep 3600"
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 200ms
      timeout: 1s
      retries: 20
      start_period: 5s
  app:
    image: busybox
    command: sleep 3600
    depends_on:
      db:
        condition: service_healthy
"""


def test_healthcheck_and_depends_on_service_healthy(host, tmp_path):
    """compose's `healthcheck:` reaches the container through the API (durations in
    nanoseconds), and `condition: service_healthy` starts `app` only once `db` is."""
    need(COMPOSE, "docker-compose")
    host.fab("ps")
    (tmp_path / "docker-compose.yml").write_text(HEALTHY)
    env = clean_env(DOCKER_HOST=f"unix://{host.host.socket}",
                    DOCKER_CONFIG=str(tmp_path / "cfg"))
    t0 = str(time.time())
    run([COMPOSE, "-p", "hc", "up", "-d"], env, cwd=str(tmp_path), timeout=60)
    assert host.inspect("hc_db_1")["Config"]["Healthcheck"] == {
        "Test": ["CMD", "test", "-e", "/tmp/ready"], "Interval": 200_000_000,
        "Timeout": 1_000_000_000, "Retries": 20, "StartPeriod": 5_000_000_000}
    seen = host.fab("events", "--since", t0, "--until", str(time.time()), "-f",
                    "event=start", "-f", "event=health_status", "--format",
                    "{{.Actor.Attributes.name}} {{.Action}}").out.splitlines()
    assert seen == ["hc_db_1 start", "hc_db_1 health_status: healthy", "hc_app_1 start"], seen
    assert "(healthy)" in host.fab("ps", "-f", "name=hc_db_1", "--format", "{{.Status}}").out
    run([COMPOSE, "-p", "hc", "down", "-t", "1"], env, cwd=str(tmp_path), timeout=60)
    assert host.fab("ps", "-aq").out == ""
