"""Lab files with hosts on other machines (`remote:`) and daemons serving TCP with TLS
(`settings: {hosts, tlsverify, ...}`): what they resolve to, and every bad input as one
line naming the file, the line and the field, before anything is reached or made."""

import os

import pytest

from fabric import certgen
from fabric.lab import explain, resolve
from lab.labcli import lab, leftovers, unique
from lab.test_labfile import error_of, load

TWO = """\
segments:
  lan: {subnet: 192.0.2.0/24}
hosts:
  h1:
    remote: {url: tcp://192.0.2.10:2376, cert-path: certs}
    nics: [{segment: lan, address: 192.0.2.10}]
  h2:
    remote: {url: "tcp://192.0.2.11", cert-path: certs}
    nics: [{segment: lan, address: 192.0.2.11, name: ens3}]
    settings: {bip: 172.18.42.1/16}
    routes: [{to: 172.17.0.0/16, via: 192.0.2.10}]
containers:
  a: {host: h1, command: httpd -f -p 80}
  b: {host: h2, command: sleep 1d}
expect:
  - {from: b, to: h1, proto: http, port: 80, via: h2:ens3}
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    certgen.init(str(d / "certs"), ["192.0.2.10", "192.0.2.11"])
    os.makedirs(d / "broken")
    for f in ("ca.pem", "cert.pem"):
        (d / "broken" / f).write_bytes((d / "certs" / f).read_bytes())
    (d / "broken" / "key.pem").write_text("not a key\n")
    return d


def test_remote_hosts_resolve(certs):
    lab_ = load(certs, TWO)
    h1, h2 = lab_.hosts
    assert (h1.remote.url, h1.remote.cert_path) == ("tcp://192.0.2.10:2376",
                                                    str(certs / "certs"))
    assert h2.remote.url == "tcp://192.0.2.11:2376"        # TLS's port by default
    assert h2.nics[0].ifname == "ens3" and dict(h2.settings) == {"bip": "172.18.42.1/16"}
    assert not lab_.made_here(lab_.segment("lan"))
    # a copy of the file elsewhere (the lab's own, for `lab test NAME`) keeps the paths
    copy = certs / "elsewhere"
    copy.mkdir(exist_ok=True)
    (copy / "lab.yaml").write_text(TWO)
    again = resolve.load(str(copy / "lab.yaml"), origin=str(certs / "x.yaml"))
    assert again.hosts[0].remote == h1.remote
    # --dry-run says what is checked there and made here
    lines = explain.commands(lab_)
    assert "# registered as x.h1" in lines and not any("netns add" in ln for ln in lines)


def test_the_default_cert_path_is_the_clients(certs, monkeypatch):
    monkeypatch.setenv("FABRIC_CERT_PATH", str(certs / "certs"))
    lab_ = load(certs, "hosts:\n  h1: {remote: {url: 'tcp://192.0.2.10:2376'}}\n")
    assert lab_.hosts[0].remote.cert_path == str(certs / "certs")


def test_api_settings_of_a_namespace_host(certs):
    lab_ = load(certs, """\
        segments: {lan: {subnet: 192.0.2.0/24}}
        hosts:
          m1:
            nics: [{segment: lan, address: 192.0.2.10}]
            settings: {icc: false, hosts: tcp://192.0.2.10:2376, tlsverify: true,
                       tlscacert: certs/ca.pem, tlscert: certs/server-cert.pem,
                       tlskey: certs/server-key.pem}
        """)
    h = lab_.hosts[0]
    assert dict(h.settings) == {"icc": False}
    api = dict(h.api)
    assert api["hosts"] == ("tcp://192.0.2.10:2376",) and api["tlsverify"] is True
    assert api["tlscacert"] == str(certs / "certs" / "ca.pem")


HOST = "segments: {lan: {subnet: 192.0.2.0/24}}\nhosts:\n  h1:\n"
REMOTE = "    remote: {url: 'tcp://192.0.2.10:2376', cert-path: certs}\n"
BAD = [
    (HOST + "    remote: {url: 'unix:///run/x.sock'}\n",
     "x.yaml:4: hosts.h1.remote.url: 'unix:///run/x.sock': a remote host is reached over "
     "TCP with TLS: use tcp://ADDR:PORT"),
    (HOST + "    remote: {url: 'tcp://192.0.2.10:99999', cert-path: certs}\n",
     "x.yaml:4: hosts.h1.remote.url: bad TCP address '192.0.2.10:99999': use "
     "tcp://ADDR:PORT"),
    (HOST + "    remote: {url: 'tcp://192.0.2.10:2376', certpath: certs}\n",
     "x.yaml:4: hosts.h1.remote.certpath: unknown key 'certpath' (did you mean "
     "'cert-path'?)"),
    (HOST + "    remote: {url: 'tcp://192.0.2.10:2376', cert-path: nowhere}\n",
     "x.yaml:4: hosts.h1.remote.cert-path: no folder nowhere (`fabric tls init DIR` "
     "makes one with ca.pem, cert.pem, key.pem)"),
    (HOST + "    remote: {url: 'tcp://192.0.2.10:2376', cert-path: broken}\n",
     "x.yaml:4: hosts.h1.remote.cert-path: cannot load the TLS files in broken: one is "
     "not a PEM certificate or key, or key.pem is not cert.pem's key"),
    (HOST + REMOTE + "    nics: [{segment: lan, address: 192.0.2.10, loss: 5%}]\n",
     "x.yaml:5: hosts.h1.nics[0].loss: impairment is made in this machine's namespaces, "
     "and host 'h1' is on another machine"),
    ("segments: {lan: {rate: 10mbit}}\nhosts:\n  h1:\n" + REMOTE +
     "    nics: [{segment: lan}]\n",
     "x.yaml:1: segments.lan.rate: impairment is made in this machine's namespaces, and "
     "segment 'lan' (its hosts' network) is on another machine"),
    (HOST + REMOTE + "    nics: [{segment: lan}]\n  h2: {nics: [{segment: lan}]}\n",
     "x.yaml:1: segments.lan: segment 'lan' joins namespace host 'h2' and remote host "
     "'h1': a segment made on this machine cannot reach another machine's network"),
    (HOST + REMOTE + "  h2: {}\nnetworks:\n  cnet: {driver: routing, subnet: 10.40.0.0/16}\n",
     "x.yaml:7: networks.cnet: driver 'routing' joins its hosts through the cluster store "
     "the lab keeps on this machine, which remote host 'h1' cannot reach"),
    (HOST + REMOTE + "  h2:\n    remote: {url: 'tcp://192.0.2.10:2376', cert-path: certs}\n",
     "x.yaml:6: hosts.h2.remote.url: tcp://192.0.2.10:2376 is already host 'h1' (one "
     "daemon, one host)"),
    (HOST + REMOTE + "    settings: {tlsverify: true}\n",
     "x.yaml:5: hosts.h1.settings.tlsverify: a remote host's daemon is reached at its "
     "`remote.url`; its API settings are that machine's own"),
    (HOST + REMOTE + "  h2:\n    remote: {url: 'tcp://192.0.2.11:2376', cert-path: certs}\n"
     "containers:\n  a: {host: h1}\n  b: {host: h2}\n"
     "expect:\n  - {from: a, to: 192.0.2.99, via: h2:eth0}\n",
     "x.yaml:11: expect[0].via: h2:eth0 is on another machine than the probe's sender "
     "(remote host 'h1'): a probe watches and sinks only on the machine that sends it"),
    (HOST + REMOTE + "  h2: {}\ncontainers:\n  a: {host: h1}\n  b: {host: h2}\n"
     "expect:\n  - {from: b, to: a, port: 9000, bytes: 1MiB}\n",
     "x.yaml:10: expect[0].to: the sink on a is on another machine than the probe's sender "
     "(this machine)"),
    (HOST + "    nics: [{segment: lan, address: 192.0.2.10}]\n"
     "    settings: {hosts: ['tcp://192.0.2.99:2376'], tlsverify: true}\n",
     "x.yaml:5: hosts.h1.settings.hosts[0]: 192.0.2.99 is not an address of this host "
     "(its NICs: 192.0.2.10)"),
    (HOST + "    settings: {hosts: ['tcp://0.0.0.0:2375']}\n",
     "x.yaml:4: hosts.h1.settings.hosts: refusing to listen on tcp://0.0.0.0:2375 without "
     "mutual TLS"),
    (HOST + "    settings: {tlscacert: certs/nope.pem}\n",
     "x.yaml:4: hosts.h1.settings.tlscacert: no file certs/nope.pem"),
    (HOST + "    nics: [{segment: lan, name: ens3}, {segment: lan, name: ens3}]\n",
     "x.yaml:4: hosts.h1.nics[1].name: host has two NICs named 'ens3'"),
]


@pytest.mark.parametrize("text, line", BAD, ids=[b[1].split(": ")[1] for b in BAD])
def test_bad_input_is_one_line_naming_file_line_and_field(certs, text, line):
    assert error_of(certs, text).startswith(line)


def test_a_remote_host_without_its_tls_files_exits_125_and_makes_nothing(certs):
    # refused as the file is read: nothing is reached (192.0.2.10 is not ours to reach)
    name = unique("far")
    p = certs / "far.yaml"
    p.write_text(f"name: {name}\n" + HOST + REMOTE.replace("certs", "missing"))
    r = lab("up", str(p))
    assert r.code == 125 and r.out == "" and len(r.err.splitlines()) == 1, r
    assert "hosts.h1.remote.cert-path: no folder" in r.err
    assert leftovers(name) == []
