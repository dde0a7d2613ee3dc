"""The API over TCP with mutual TLS: `fabric tls init`, a lab host's daemon listening in
its namespace, and clients with good, wrong-CA, missing and expired certificates."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from dockerclients import DOCKER, clean_env, need

from fabric import certgen

FABRIC = os.path.join(os.path.dirname(sys.executable), "fabric")
URL = "tcp://127.0.0.1:2376"


def tls_host(host, certs: str, **more) -> None:
    """The host's daemon serves TCP with mutual TLS too (settings.json, as dockerd's
    daemon.json names the keys), started by the first command."""
    settings = {"hosts": [URL], "tlsverify": True, "tlscacert": f"{certs}/ca.pem",
                "tlscert": f"{certs}/server-cert.pem", "tlskey": f"{certs}/server-key.pem",
                **more}
    with open(os.path.join(host.root, "settings.json"), "w") as f:
        json.dump(settings, f)
    host.fab("ps")


def remote(host, *args: str, **env: str) -> subprocess.CompletedProcess:
    """fabric inside the host's namespace, reaching its daemon over TCP only."""
    return subprocess.run(host.prefix + [FABRIC, "-H", URL, *args], capture_output=True,
                          text=True, timeout=30, env=clean_env(**env))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA with its server and client pairs; another CA's client pair; an expired one."""
    d = tmp_path_factory.mktemp("tls")
    good, other = str(d / "good"), str(d / "other")
    certgen.init(good, ["127.0.0.1", "localhost"])
    certgen.init(other, ["127.0.0.1"])
    now = dt.datetime.now(dt.UTC)
    certgen.issue_client_files(good, str(d / "expired"), now - dt.timedelta(days=30),
                               now - dt.timedelta(days=1))
    return d


def test_tls_init_writes_the_seeds_files(tmp_path):
    out = subprocess.run([FABRIC, "tls", "init", str(tmp_path / "c"), "--host", "lab.example",
                          "--host", "192.0.2.10"], capture_output=True, text=True, check=True)
    names = sorted(os.path.basename(p) for p in out.stdout.split())
    assert names == ["ca-key.pem", "ca.pem", "cert.pem", "key.pem", "server-cert.pem",
                     "server-key.pem"]
    for key in ("ca-key.pem", "key.pem", "server-key.pem"):
        assert os.stat(tmp_path / "c" / key).st_mode & 0o077 == 0
    from cryptography import x509
    cert = x509.load_pem_x509_certificate((tmp_path / "c" / "server-cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["lab.example"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    again = subprocess.run([FABRIC, "tls", "init", str(tmp_path / "c")], capture_output=True,
                           text=True)
    assert again.returncode != 0 and "give --force" in again.stderr


def test_mutual_tls_accepts_good_clients_and_refuses_the_others(host, certs):
    need(DOCKER, "docker.io")
    good = str(certs / "good")
    tls_host(host, good)
    host.fab("run", "-d", "--name", "srv", "busybox", "sleep", "300")
    flags = ["--tlsverify", "--tlscacert", f"{good}/ca.pem", "--tlscert", f"{good}/cert.pem",
             "--tlskey", f"{good}/key.pem"]
    r = remote(host, *flags, "ps", "--format", "{{.Names}}")
    assert (r.returncode, r.stdout) == (0, "srv\n"), r
    # the same through the environment: a folder with the seeds' names
    r = remote(host, "run", "--rm", "busybox", "echo", "over tls",
               FABRIC_TLS_VERIFY="1", FABRIC_CERT_PATH=good)
    assert (r.returncode, r.stdout) == (0, "over tls\n"), r
    # Debian's docker CLI, with Docker's own flags and variables
    d = subprocess.run(host.prefix + [DOCKER, "--tlsverify", "-H", URL, "ps", "--format",
                                      "{{.Names}}"], capture_output=True, text=True,
                       timeout=30, env=clean_env(DOCKER_CERT_PATH=good))
    assert (d.returncode, d.stdout) == (0, "srv\n"), d

    def refused(*args: str, **env: str) -> str:
        r = remote(host, *args, "ps", **env)
        assert r.returncode == 125 and len(r.stderr.splitlines()) == 1, r
        return r.stderr.strip()

    other, expired = str(certs / "other"), str(certs / "expired")
    assert "does not trust the client certificate's CA" in refused(
        "--tlsverify", "--tlscacert", f"{good}/ca.pem", "--tlscert", f"{other}/cert.pem",
        "--tlskey", f"{other}/key.pem")
    assert "requires a client certificate" in refused(
        "--tlsverify", "--tlscacert", f"{good}/ca.pem", FABRIC_CERT_PATH="/nonexistent")
    assert "expired" in refused("--tlsverify", "--tlscacert", f"{good}/ca.pem", "--tlscert",
                                f"{expired}/cert.pem", "--tlskey", f"{expired}/key.pem")
    # a daemon certificate from a CA the client does not trust
    assert "certificate is not trusted" in refused(
        "--tlsverify", "--tlscacert", f"{other}/ca.pem", FABRIC_CERT_PATH=good)
    # plain HTTP on the TLS port: Go's answer, as dockerd gives it
    assert refused() == "Error response from daemon: Client sent an HTTP request to an " \
                        "HTTPS server."
    # a lab host on another machine is a URL and a certificate folder
    code = ("from fabric.client.connect import remote; import sys; "
            "print(remote(sys.argv[1], sys.argv[2]).get('/containers/json')[0]['Names'])")
    r = subprocess.run(host.prefix + [sys.executable, "-c", code, URL, good],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert r.stdout == "['/srv']\n", r
    # and the daemon serves on, over TLS and on its socket
    r = remote(host, "ps", "-q", FABRIC_TLS_VERIFY="yes", FABRIC_CERT_PATH=good)
    assert r.returncode == 0 and len(r.stdout.split()) == 1
    log = open(os.path.join(host.root, "daemon.log")).read()
    assert "TLS handshake failed" in log and "sent plain HTTP to the TLS port" in log


def test_tcp_without_tls_is_refused_unless_insecure_tcp(host, tmp_path):
    r = subprocess.run(host.prefix + [FABRIC, "--root", host.root, "daemon", "-H",
                                      "tcp://127.0.0.1:2375"], capture_output=True,
                       text=True, timeout=30, env=clean_env())
    assert r.returncode != 0 and len(r.stderr.splitlines()) == 1, r
    assert "refusing to listen on tcp://127.0.0.1:2375 without mutual TLS" in r.stderr
    assert not os.path.exists(os.path.join(host.root, "fabric.sock"))  # nothing started
    extra = os.path.join(host.root, "extra.sock")
    with open(os.path.join(host.root, "settings.json"), "w") as f:
        json.dump({"hosts": ["tcp://127.0.0.1:2375", f"unix://{extra}"], "insecure-tcp": True},
                  f)
    host.fab("ps")
    r = subprocess.run([FABRIC, "-H", f"unix://{extra}", "ps", "-q"], capture_output=True,
                       text=True, timeout=30, env=clean_env())
    assert (r.returncode, r.stdout) == (0, ""), r
    r = subprocess.run(host.prefix + [FABRIC, "-H", "tcp://127.0.0.1:2375", "ps", "-q"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert (r.returncode, r.stdout) == (0, ""), r
    # the CLI reads no DOCKER_* variables: DOCKER_TLS_VERIFY does not turn TLS on
    r = subprocess.run(host.prefix + [FABRIC, "-H", "tcp://127.0.0.1:2375", "ps", "-q"],
                       capture_output=True, text=True, timeout=30,
                       env=clean_env(DOCKER_TLS_VERIFY="1", DOCKER_HOST="tcp://192.0.2.1:1"))
    assert r.returncode == 0, r
    # a TLS client on the plain port gets a clear line, not a hang
    r = subprocess.run(host.prefix + [FABRIC, "-H", "tcp://127.0.0.1:2375", "--tls", "ps"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert r.returncode == 125 and "TLS connection to tcp://127.0.0.1:2375 failed" in r.stderr
