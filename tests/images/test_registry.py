"""pull, push, login and pull-on-run against a real registry (Debian's docker-registry)
started in the test host's namespace: plain HTTP on 127.0.0.1 (insecure by default, as
dockerd treats loopback), TLS with basic auth on an address of its own, and the failures
a user meets (unknown tag, registry down, wrong credentials, corrupt blob, wrong
platform), each one line, exit 125, nothing half-stored."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import pytest
from registryd import BINARY, Registry

pytestmark = pytest.mark.skipif(BINARY is None or not os.path.exists("/usr/bin/skopeo"),
                                reason="needs Debian's docker-registry and skopeo "
                                       "(./setup.sh installs them)")
FABRIC = [os.path.join(os.path.dirname(sys.executable), "fabric")]
TLS_ADDR = "10.254.0.1"


@pytest.fixture
def registry(host):
    r = Registry(host)
    try:
        yield r
    finally:
        r.stop()


def _image(host, ref: str, content: str = "x") -> str:
    """A two-layer image (busybox plus one committed layer) tagged ref; its id."""
    name = "c" + hashlib.sha256(ref.encode()).hexdigest()[:8]
    host.fab("run", "--name", name, "--network", "none", "busybox", "sh", "-c",
             f"echo {content} > /x")
    host.fab("commit", name, ref)
    host.fab("rm", name)
    return json.loads(host.fab("image", "inspect", ref).out)[0]["Id"]


def _store_state(host) -> tuple[list, list, list]:
    images = sorted(os.listdir(os.path.join(host.root, "images")))
    layers = sorted(os.listdir(os.path.join(host.root, "layers")))
    tmp = sorted(os.listdir(os.path.join(host.root, "tmp")))
    return images, layers, tmp


def test_push_pull_run_over_plain_http(host, registry):
    ref = f"{registry.name}/lab/bb:1"
    image_id = _image(host, ref)
    r = host.fab("push", ref)
    assert f"The push refers to repository [{registry.name}/lab/bb]" in r.out
    assert "Pushed" in r.out and "1: digest: sha256:" in r.out, r.out
    digest = r.out.split("digest: ")[1].split()[0]
    inspect = json.loads(host.fab("image", "inspect", ref).out)[0]
    assert inspect["RepoDigests"] == [f"{registry.name}/lab/bb@{digest}"]

    host.fab("rmi", ref)
    r = host.fab("pull", ref)
    lines = r.out.splitlines()
    assert lines[0] == "1: Pulling from lab/bb"
    # the busybox layer is here already; only the committed one travels
    assert [ln.split(": ")[1] for ln in lines[1:3]] == ["Already exists", "Pulling fs layer"]
    assert sum(ln.endswith(": Pull complete") for ln in lines) == 1, r.out
    assert f"Digest: {digest}" in lines
    assert f"Status: Downloaded newer image for {ref}" in lines
    assert lines[-1] == ref
    # the image id is the config's digest: the same image came back, byte for byte
    assert json.loads(host.fab("image", "inspect", ref).out)[0]["Id"] == image_id

    r = host.fab("pull", ref)
    assert f"Status: Image is up to date for {ref}" in r.out and "Pull complete" not in r.out

    # by digest, and run by digest
    host.fab("rmi", ref)
    r = host.fab("pull", f"{registry.name}/lab/bb@{digest}")
    assert "Pull complete" in r.out
    assert host.fab("run", "--rm", "--network", "none", f"{registry.name}/lab/bb@{digest}",
                    "cat", "/x").out == "x\n"
    host.fab("rmi", f"{registry.name}/lab/bb@{digest}")

    # run pulls a missing image, as Docker does; --pull never does not
    r = host.fab("run", "--pull", "never", "--rm", ref, "true", check=False)
    assert r.code == 125 and f"No such image: {ref}" in r.err
    r = host.fab("run", "--rm", "--network", "none", ref, "cat", "/x")
    assert r.out == "x\n"
    assert f"Unable to find image '{ref}' locally" in r.err and "Pull complete" in r.err

    # with the base image gone too, both layers travel
    host.fab("rmi", ref, "busybox")
    r = host.fab("pull", ref)
    assert r.out.count("Pull complete") == 2, r.out


def test_registry_failures_leave_nothing(host, registry):
    ref = f"{registry.name}/lab/bb:1"
    _image(host, ref)
    pushed = host.fab("push", ref).out
    digest = pushed.split("digest: ")[1].split()[0]
    host.fab("rmi", ref)
    before = _store_state(host)

    r = host.fab("pull", f"{registry.name}/lab/bb:nope", check=False)
    assert r.code == 125
    assert r.err.strip() == (f"Error response from daemon: manifest for {registry.name}/lab/"
                             "bb:nope not found: manifest unknown: manifest unknown")
    r = host.fab("pull", "127.0.0.1:5999/lab/bb:1", check=False)
    assert r.code == 125 and len(r.err.strip().splitlines()) == 1
    assert "127.0.0.1:5999" in r.err and "connection refused" in r.err

    # a blob whose content does not match its digest
    manifest = json.loads(host.sh(f"skopeo inspect --raw --tls-verify=false docker://{registry.name}/lab/bb@"
                                  f"{digest}").out)
    top = manifest["layers"][-1]
    path = registry.blob_path(top["digest"])
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)
    r = host.fab("pull", ref, check=False)
    assert r.code == 125
    assert f"filesystem layer verification failed for digest {top['digest']}" in r.err
    assert _store_state(host) == before
    assert host.fab("images", "-q", ref).out == ""


def _oci_layout(host, image_id: str, dest: str, platforms: list[str]) -> None:
    """An OCI layout holding an image index: one manifest per platform, each with the
    image's layers and a config naming that platform."""
    from fabric.images.push import put_blob
    blobs = os.path.join(dest, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data: bytes) -> dict:
        return put_blob(blobs, data)
    cfg = json.load(open(os.path.join(host.root, "images", image_id[7:] + ".json")))
    layers = []
    for diff in cfg["rootfs"]["diff_ids"]:
        with open(os.path.join(host.root, "layers", diff[7:] + ".tar"), "rb") as f:
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           **put(f.read())})
    entries = []
    for p in platforms:
        cfg["architecture"] = p
        config = {"mediaType": "application/vnd.oci.image.config.v1+json",
                  **put(json.dumps(cfg).encode())}
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": config, "layers": layers}
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        **put(json.dumps(m).encode()),
                        "platform": {"os": "linux", "architecture": p}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": entries}
    top = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", **put(json.dumps(index).encode()),
        "annotations": {"org.opencontainers.image.ref.name": "1"}}]}
    with open(os.path.join(dest, "index.json"), "w") as f:
        json.dump(top, f)
    with open(os.path.join(dest, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def test_platform_picked_from_manifest_list(host, registry, tmp_path):
    image_id = _image(host, "local/src:1")
    for name, platforms in (("multi", ["arm64", "amd64"]), ("armonly", ["arm64"])):
        layout = str(tmp_path / name)
        _oci_layout(host, image_id, layout, platforms)
        host.sh(f"skopeo copy --all --dest-tls-verify=false oci:{layout}:1 "
                f"docker://{registry.name}/lab/{name}:1")
    r = host.fab("pull", f"{registry.name}/lab/multi:1")
    assert "Pull complete" in r.out or "Already exists" in r.out
    cfg = json.loads(host.fab("image", "inspect", f"{registry.name}/lab/multi:1").out)[0]
    assert cfg["Architecture"] == "amd64"
    before = _store_state(host)
    r = host.fab("pull", f"{registry.name}/lab/armonly:1", check=False)
    assert r.code == 125
    assert r.err.strip() == ("Error response from daemon: no matching manifest for "
                             "linux/amd64 in the manifest list entries")
    assert _store_state(host) == before


def _fab(host, config_dir: str, *args: str, input: str | None = None):
    """The CLI with its credentials file in config_dir (FABRIC_CONFIG)."""
    env = host.env()
    env.update(FABRIC_CONFIG=config_dir, DOCKER_CONFIG=os.path.join(config_dir, "docker"))
    return subprocess.run(host.prefix + FABRIC + list(args), input=input, text=True,
                          capture_output=True, env=env, timeout=60)


def test_tls_registry_with_basic_auth(host):
    host.sh(f"ip addr add {TLS_ADDR}/32 dev lo")
    reg = Registry(host, addr=TLS_ADDR, port=5443, tls=True, users={"alice": "s3cret"})
    cfg = tempfile.mkdtemp(prefix="fabric-cfg-")
    try:
        ref = f"{reg.name}/team/app:1"
        _image(host, ref)
        # not trusted yet: the registry's certificate is its own
        r = _fab(host, cfg, "push", ref)
        assert r.returncode == 125 and "x509" in r.stderr, r
        certs = os.path.join(host.root, "certs.d", reg.name)
        os.makedirs(certs)
        with open(reg.cert) as src, open(os.path.join(certs, "ca.crt"), "w") as dst:
            dst.write(src.read())
        r = _fab(host, cfg, "push", ref)
        assert r.returncode == 125 and "authentication required" in r.stderr, r

        r = _fab(host, cfg, "login", "-u", "alice", "--password-stdin", reg.name,
                 input="wrong\n")
        assert r.returncode == 125
        assert r.stderr.strip().endswith(f"login attempt to https://{reg.name}/v2/ failed "
                                         "with status: 401 Unauthorized")
        assert not os.path.exists(os.path.join(cfg, "config.json"))
        r = _fab(host, cfg, "login", "-u", "alice", "--password-stdin", reg.name,
                 input="s3cret\n")
        assert r.returncode == 0 and r.stdout.strip() == "Login Succeeded", r
        with open(os.path.join(cfg, "config.json")) as f:
            stored = json.load(f)["auths"][reg.name]["auth"]
        assert base64.b64decode(stored) == b"alice:s3cret"
        assert oct(os.stat(os.path.join(cfg, "config.json")).st_mode & 0o777) == "0o600"

        r = _fab(host, cfg, "push", ref)
        assert r.returncode == 0 and "digest: sha256:" in r.stdout, r
        host.fab("rmi", ref)
        r = _fab(host, cfg, "pull", ref)
        assert r.returncode == 0 and "Pull complete" in r.stdout, r

        # Docker's own config file is read too (fabric's comes first)
        r = _fab(host, cfg, "logout", reg.name)
        assert r.stdout.strip() == f"Removing login credentials for {reg.name}"
        os.makedirs(os.path.join(cfg, "docker"))
        with open(os.path.join(cfg, "docker", "config.json"), "w") as f:
            json.dump({"auths": {reg.name: {"auth": stored}}}, f)
        host.fab("rmi", ref)
        r = _fab(host, cfg, "pull", ref)
        assert r.returncode == 0, r
        assert _fab(host, cfg, "logout", reg.name).stdout.strip() == \
            f"Not logged in to {reg.name}"
    finally:
        reg.stop()
        subprocess.run(["rm", "-rf", cfg])


def test_insecure_registries_setting(host):
    host.sh(f"ip addr add {TLS_ADDR}/32 dev lo")
    reg = Registry(host, addr=TLS_ADDR, port=5000)
    try:
        ref = f"{reg.name}/lab/plain:1"
        _image(host, ref)
        r = host.fab("push", ref, check=False)
        assert r.code == 125 and "server gave HTTP response to HTTPS client" in r.err, r
        path = os.path.join(host.root, "settings.json")
        settings = json.load(open(path)) if os.path.exists(path) else {}
        settings["insecure-registries"] = ["10.254.0.0/16"]      # read at each pull/push
        with open(path, "w") as f:
            json.dump(settings, f)
        host.fab("push", ref)
    finally:
        reg.stop()


def test_engine_api_pull_stream(host, registry):
    """Docker's route: POST /images/create?fromImage=&tag= answers a JSON stream."""
    ref = f"{registry.name}/lab/api:1"
    _image(host, ref)
    host.fab("push", ref)
    host.fab("rmi", ref)
    api = host.api()
    resp = api.request("POST", "/images/create", {"fromImage": f"{registry.name}/lab/api",
                                                  "tag": "1"})
    assert resp.status == 200
    msgs = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert msgs[0] == {"status": "Pulling from lab/api", "progressDetail": {}, "id": "1"}
    assert any(m.get("status") == "Downloading" and m["progressDetail"]["total"] > 0
               for m in msgs)
    assert msgs[-1]["status"] == f"Status: Downloaded newer image for {ref}"
    resp = api.request("POST", "/images/create", {"fromImage": f"{registry.name}/lab/api",
                                                  "tag": "nope"})
    assert resp.status == 404
