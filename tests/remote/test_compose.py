"""Debian's docker-compose 1.29 brings up, lists, scales and takes down a project with
two services, a user network, a published port and a volume."""

from conftest import COMPOSE, clean_env, need, run

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
