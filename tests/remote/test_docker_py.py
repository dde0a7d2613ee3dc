"""docker-py (the `docker` package) drives fabric with the calls its users make."""

import time

import pytest

docker_py = pytest.importorskip("docker", reason="docker-py is missing: pip install docker "
                                                 "(the test extra has it)")


@pytest.fixture
def client(host):
    host.fab("ps")
    c = docker_py.DockerClient(base_url=f"unix://{host.host.socket}", version="auto")
    try:
        yield c
    finally:
        c.close()


def test_containers_exec_logs_networks_volumes_images_events(client):
    t0 = time.time()
    assert client.ping() and client.version()["ApiVersion"] == "1.41"
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
    with pytest.raises(docker_py.errors.ContainerError) as err:
        client.containers.run("busybox", "sh -c 'exit 7'", remove=True)
    assert err.value.exit_status == 7
    ct = client.containers.run("busybox", "sh -c 'echo started; sleep 300'", detach=True,
                               name="py", labels={"team": "net"}, ports={"80/tcp": 8090})
    ct.reload()
    assert ct.status == "running" and ct.ports == {"80/tcp": [{"HostIp": "0.0.0.0",
                                                               "HostPort": "8090"}]}
    assert ct.exec_run("sh -c 'echo $((2+3))'").output == b"5\n"
    assert b"".join(ct.logs(stream=True, follow=False)) == b"started\n"
    assert [c.name for c in client.containers.list(filters={"label": "team=net"})] == ["py"]
    net = client.networks.create("pynet", labels={"x": "y"})
    net.connect(ct, aliases=["alias1"])
    net.reload()
    assert [c.name for c in net.containers] == ["py"]
    assert [n.name for n in client.networks.list(filters={"label": "x=y"})] == ["pynet"]
    net.disconnect(ct)
    net.remove()
    vol = client.volumes.create("pyvol", labels={"k": "v"})
    assert "pyvol" in [v.name for v in client.volumes.list()]
    vol.remove()
    img = client.images.get("busybox")
    img.tag("pybox", "2")
    assert client.images.get("pybox:2").id == img.id
    client.images.remove("pybox:2")
    ct.stop(timeout=1)
    assert ct.wait()["StatusCode"] == 137
    ct.remove()
    seen = {(e["Type"], e["Action"]) for e in client.events(
        since=int(t0), until=int(time.time()) + 1, decode=True)}
    assert {("container", "create"), ("container", "start"), ("container", "die"),
            ("container", "destroy"), ("network", "create"), ("network", "connect"),
            ("network", "disconnect"), ("network", "destroy")} <= seen
    with pytest.raises(docker_py.errors.ImageNotFound):
        client.images.get("no/such-image")
