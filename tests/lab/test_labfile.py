"""Lab files: the shipped schema, and every bad input as one line naming the file, the
line and the field (exit 125, nothing made)."""

import json
import os
import textwrap

import pytest

from fabric.lab import resolve
from fabric.lab.errors import LabError
from fabric.lab.shape import schema
from lab.labcli import LABS, LABS_DIR, lab, leftovers, unique

GOOD = """\
name: t
segments:
  lan: {subnet: 192.168.18.0/24}
hosts:
  h1:
    nics: [{segment: lan, address: 192.168.18.1/24}]
    routes: [{to: 10.9.0.0/16, via: 192.168.18.2}]
  h2:
    nics: [{segment: lan, address: 192.168.18.2/24}]
    slices: {cnet: 10.40.5.0/24}
networks:
  cnet: {driver: routing, subnet: 10.40.0.0/16}
containers:
  a: {host: h1, command: httpd -f -p 80}
  b: {host: h2, networks: {cnet: {ip: 10.40.5.9}}}
expect:
  - {from: a, to: b@cnet}
"""


def load(tmp_path, text: str, name: str = "x.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return resolve.load(str(p), drivers=["bridge", "ovs", "routing"])


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(LabError) as e:
        load(tmp_path, text)
    return e.value.message.replace(str(tmp_path) + "/", "")


def test_the_issue_example_resolves(tmp_path):
    lab = load(tmp_path, GOOD)
    assert [h.name for h in lab.hosts] == ["h1", "h2"]
    assert lab.host("h1").underlay.ip.exploded == "192.168.18.1"
    cnet = lab.network("cnet")
    # h1 takes the lowest free /24 in file order; h2 keeps the slice it pins
    assert [(h, str(s)) for h, s in cnet.slices] == [("h1", "10.40.0.0/24"),
                                                   ("h2", "10.40.5.0/24")]
    assert lab.container("a").command == ("httpd", "-f", "-p", "80")
    assert lab.container("a").network_names == ("bridge",)
    assert lab.expect[0].proto == "icmp" and lab.expect[0].expect == "ok"


def test_every_shipped_lab_resolves_and_the_schema_ships():
    assert schema()["properties"]["hosts"]["type"] == "object"
    for f in sorted(os.listdir(LABS)):
        if f.endswith(".yaml"):
            lab_ = resolve.load(os.path.join(LABS, f),
                                drivers=["bridge", "mesh", "ovs", "routing"])
            assert lab_.expect, f"{f} has no expectations"
            with open(os.path.join(LABS, f)) as fh:
                assert fh.readline().startswith("# "), f"{f}: no header comment"


BAD = [
    # a misspelled key names the close one
    ("hosts:\n  h1:\n    nicss: []\n", "x.yaml:3: hosts.h1.nicss: unknown key 'nicss' "
     "(did you mean 'nics'?)"),
    ("hosts:\n  h1: {nics: [{address: 10.0.0.1/24}]}\n",
     "x.yaml:2: hosts.h1.nics[0]: missing key 'segment'"),
    ("segments: {lan: {}}\n", "x.yaml:1: missing key 'hosts'"),
    ("hosts: {h1: {}}\nexpect:\n  - {from: h1, to: h1, expect: maybe}\n",
     "x.yaml:3: expect[0].expect: 'maybe' is not one of ok, refused, blocked"),
    ("hosts: {h1: {}}\ncontainers:\n  web: {host: h1, command: 5}\n",
     "x.yaml:3: containers.web.command: expected a string or a list, got 5"),
    # meaning
    ("hosts: {h1: {}, h2: {}}\ncontainers:\n  web:\n    host: h3\n",
     "x.yaml:4: containers.web.host: no host 'h3' (known: h1, h2)"),
    ("segments:\n  lan: {subnet: 192.168.18.0/24}\nhosts:\n  h1:\n"
     "    nics: [{segment: lan, address: 192.168.19.1/24}]\n",
     "x.yaml:5: hosts.h1.nics[0].address: 192.168.19.1 is outside segment 'lan' "
     "(192.168.18.0/24)"),
    ("segments: {lan: {}}\nhosts:\n  h1: {nics: [{segment: lan, address: 10.0.0.1/24}]}\n"
     "  h2:\n    nics:\n      - {segment: lan, address: 10.0.0.1/24}\n",
     "x.yaml:6: hosts.h2.nics[0].address: 10.0.0.1 is already host 'h1''s address"),
    ("hosts: {h1: {}}\ncontainers:\n  web: {host: h1, networks: [nope]}\n",
     "x.yaml:3: containers.web.networks[0]: no network 'nope' (known: bridge)"),
    ("segments: {lan: {}}\nhosts:\n  h1:\n    nics: [{segment: lan, address: 10.0.0.1/24}]\n"
     "    routes:\n      - {to: 10.9.0.0/16, via: 10.1.0.1}\n",
     "x.yaml:6: hosts.h1.routes[0].via: gateway 10.1.0.1 is not reachable from a NIC of "
     "host 'h1' (its NICs: eth0 10.0.0.1/24)"),
    ("hosts:\n  h1:\n    slices: {cnet: 10.41.0.0/24}\nnetworks:\n"
     "  cnet: {driver: routing, subnet: 10.40.0.0/16}\n",
     "x.yaml:3: hosts.h1.slices.cnet: slice 10.41.0.0/24 is outside network 'cnet' "
     "(10.40.0.0/16)"),
    ("hosts:\n  h1: {}\n  h2: {}\nnetworks:\n  cnet: {driver: routing, subnet: 10.40.0.0/16}\n"
     "containers:\n  b: {host: h2, networks: {cnet: {ip: 10.40.0.9}}}\n",
     "x.yaml:7: containers.b.networks.cnet.ip: 10.40.0.9 is outside host 'h2''s slice of "
     "'cnet' (10.40.1.0/24)"),
    ("hosts: {web: {}}\ncontainers:\n  web: {host: web}\n",
     "x.yaml:3: containers.web: 'web' is also a host: hosts and containers share one "
     "namespace"),
    ("hosts: {h1: {}}\nhosts: {h2: {}}\n", "x.yaml:2: hosts: 'hosts' is given twice"),
    ("hosts: {h1: {}}\nnetworks: {cnet: {driver: nosuch}}\n",
     "x.yaml:2: networks.cnet.driver: no network driver 'nosuch' is installed "
     "(installed: bridge, ovs, routing)"),
    ("hosts: {h1: {}}\ncontainers:\n  a: {command: 'sleep 1d'}\nexpect:\n"
     "  - {from: a, to: b}\n", "x.yaml:5: expect[0].to: no host, container or address 'b'"),
    ("segments:\n  lan: {loss: lots}\nhosts: {h1: {}}\n",
     "x.yaml:2: segments.lan.loss: impairment loss: bad value 'lots' (e.g. 5%, 0.5%)"),
    ("hosts: [h1]\n", "x.yaml:1: hosts: expected a mapping, got a list"),
    ("hosts: {h1: {}}\ncontainers:\n  a: {healthcheck: {interval: soon}}\n",
     'x.yaml:3: containers.a.healthcheck.interval: time: invalid duration "soon" (e.g. '
     "500ms, 5s, 1m30s)"),
    ("hosts: {h1: {}}\ncontainers:\n  a: {wait: ready}\n",
     "x.yaml:3: containers.a.wait: 'ready' is not one of healthy"),
    ("hosts: {h1: {}}\ncontainers:\n  a: {wait: healthy, healthcheck: {disable: true}}\n",
     "x.yaml:3: containers.a.wait: waits until healthy, but its health check is disabled"),
    ("hosts: {h1: {}}\ncontainers:\n  a: {healthcheck: {test: [curl, localhost]}}\n",
     "x.yaml:3: containers.a.healthcheck.test: a test list starts with CMD, CMD-SHELL or "
     "NONE, not 'curl' (or give the command as one string)"),
    ("hosts: {h1: {}\n", "x.yaml:2: not valid YAML: expected ',' or '}', but got '<stream end>'"),
]


@pytest.mark.parametrize("text, line", BAD, ids=[b[1].split(": ")[1] for b in BAD])
def test_bad_input_is_one_line_naming_file_line_and_field(tmp_path, text, line):
    assert error_of(tmp_path, text) == line


def test_bad_file_exits_125_and_makes_nothing(tmp_path):
    name = unique("bad")
    p = tmp_path / "bad.yaml"
    p.write_text(f"name: {name}\nhosts: {{h1: {{}}, h2: {{}}}}\ncontainers:\n"
                 f"  web:\n    host: h3\n")
    before = sorted(os.listdir(LABS_DIR)) if os.path.isdir(LABS_DIR) else []
    r = lab("up", str(p))
    assert r.code == 125
    assert r.err == f"{p}:5: containers.web.host: no host 'h3' (known: h1, h2)\n"
    assert r.out == ""
    assert leftovers(name) == []
    assert (sorted(os.listdir(LABS_DIR)) if os.path.isdir(LABS_DIR) else []) == before


def test_dry_run_prints_the_plan_and_makes_nothing():
    name = unique("dry")
    r = lab("up", "--dry-run", "--name", name, os.path.join(LABS, "two-hosts.yaml"))
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert f"ip netns add fabs-{name}.lan" in lines
    assert f"ip -n fabh-{name}.h1 addr add 192.168.18.11/24 dev eth0" in lines
    assert f"fabric host add --no-start --setting icc=False {name}.h2" in lines or \
        f"fabric host add --no-start --setting icc=false {name}.h2" in lines
    assert any(ln.startswith(f"fabric -H {name}.h2 run -d --name web -p 8080:80")
               for ln in lines)
    assert leftovers(name) == []


def test_graph_from_a_file_without_the_lab(tmp_path):
    r = lab("graph", os.path.join(LABS, "routing-3.yaml"), "--format", "mermaid")
    if r.code != 0:
        assert "no network driver 'routing'" in r.err
        r = lab("graph", os.path.join(LABS, "two-hosts.yaml"), "--format", "mermaid")
    assert r.code == 0 and r.out.startswith("flowchart TB"), r
    out = tmp_path / "g.svg"
    r = lab("graph", os.path.join(LABS, "two-hosts.yaml"), "-o", str(out))
    assert r.code == 0, r
    assert b"<svg" in out.read_bytes() and b"192.168.18.11/24" in out.read_bytes()


def test_json_schema_is_valid():
    import jsonschema
    jsonschema.Draft202012Validator.check_schema(schema())
    assert json.loads(json.dumps(schema())) == schema()


def test_a_nic_s_impairment_one_way(tmp_path):
    from fabric.lab import underlay
    text = GOOD.replace("nics: [{segment: lan, address: 192.168.18.2/24}]",
                        "nics: [{segment: lan, address: 192.168.18.2/24, loss: 20%, "
                        "direction: in}]")
    lab_ = load(tmp_path, text)
    h2 = lab_.host("h2")
    steps = "\n".join(underlay.host(lab_.name, h2).describe())
    # what h2 receives: the loss on its port of the segment's bridge, none on eth0
    assert "h2-eth0" in steps and "loss=20%" in steps
    assert "loss_eth0" not in steps
    both = load(tmp_path, text.replace(", direction: in", ""), "y.yaml")
    assert "loss_eth0" in "\n".join(underlay.host(both.name, both.host("h2")).describe())
    assert "x.yaml:9: hosts.h2.nics[0].direction: 'up' is not one of in, out, both" in \
        error_of(tmp_path, text.replace("direction: in", "direction: up"))
