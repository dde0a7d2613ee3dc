"""`fabric lab doctor` on a two-host lab, and `lab up` checking first: an overlay whose
MTU its underlay cannot carry (warned by `lab up`, refused by `--strict`), a segment
whose MTU one host lowered (only the lab sees it from the other host), strict
rp_filter on a host's underlay, and an Open vSwitch port with fabric's marks of no
endpoint (removed by --fix; the rest is left and reported)."""

import json
import os
import shutil
import subprocess

import pytest
from lab.labcli import FABRIC, lab, unique

from fabric.host import registry

pytestmark = pytest.mark.skipif(shutil.which("ovs-vswitchd") is None,
                                reason="Open vSwitch not installed")

LAB = """\
name: doctor
segments:
  lan: {subnet: 10.67.0.0/24}
hosts:
  h1: {nics: [{segment: lan, address: 10.67.0.1/24}]}
  h2: {nics: [{segment: lan, address: 10.67.0.2/24}]}
networks:
  big: {driver: ovs, subnet: 10.68.0.0/16, options: {tunnel: vxlan, vni: "68", mtu: "1500"}}
  fits: {driver: ovs, subnet: 10.69.0.0/16, options: {tunnel: vxlan, vni: "69"}}
"""
BIG = ("network big: MTU 1500 + 50 for VXLAN = 1550 bytes between its hosts, whose NICs "
       "carry 1500: packets over 1450 bytes will vanish (give it mtu: 1450)")


def on(name: str, host: str, cmd: str, **env) -> str:
    ref = f"{name}.{host}"
    p = subprocess.run(FABRIC + ["host", "exec", ref, "sh", "-c", cmd], capture_output=True,
                       text=True, env={**os.environ, **env}, check=True)
    return p.stdout


def test_lab_doctor_finds_what_each_host_and_the_segment_break(tmp_path):
    path = tmp_path / "doctor.yaml"
    path.write_text(LAB)
    refused = unique("doctor-strict")
    r = lab("up", "--strict", str(path), "--name", refused)
    assert r.code == 125 and f"lab {refused} not made (--strict): {BIG}" in r.err, r
    assert not [x for x in registry.records() if x.lab == refused]
    assert refused not in lab("ls", "-q").out

    name = unique("doctor")
    r = lab("up", str(path), "--name", name)
    try:
        assert r.code == 0, r
        assert f"warning 1: {BIG}" in r.err
        h2_root = registry.root_of(f"{name}.h2").path
        net = subprocess.run(FABRIC + ["-H", f"{name}.h2", "network", "inspect", "-f",
                                       "{{.Id}}", "fits"], capture_output=True, text=True,
                             check=True).stdout.strip()
        on(name, "h1", "sysctl -qw net.ipv4.conf.all.rp_filter=1")
        on(name, "h2", f"ip link set dev eth0 mtu 1460 && ovs-vsctl add-port fo-{net[:10]} "
           f"fdstray -- set interface fdstray type=internal -- set port fdstray "
           f"external_ids:fabric-network={net} external_ids:fabric-endpoint={'e' * 64}",
           OVS_RUNDIR=os.path.join(h2_root, "ovs"))

        r = lab("doctor", name, "--json")
        assert r.code == 1, r
        got = {rep["Host"]: rep for rep in json.loads(r.out)}
        h1 = [f["what"] for f in got["h1"]["Findings"]]
        h2 = [f["what"] for f in got["h2"]["Findings"]]
        assert sorted(f["check"] for f in got["h1"]["Findings"]) == ["mtu", "mtu", "rp-filter"]
        assert any(w.startswith("strict rp_filter on underlay fabric-ul") for w in h1), h1
        assert any("network big's VXLAN tunnel" in w and "needs 1500 + 50 = 1550 bytes, but "
                   "eth0 has MTU 1500" in w for w in h1), h1
        # fine on h1 itself: only the segment, through h2's NIC, is too small
        assert any(w.startswith("network fits's VXLAN tunnel") and "to h2 needs 1500 bytes "
                   "on segment lan, but h2's eth0 there has MTU 1460" in w for w in h1), h1
        assert sorted(f["check"] for f in got["h2"]["Findings"]) == ["mtu", "mtu",
                                                                     "orphan-ovs"], h2
        assert any("Open vSwitch port fdstray" in w for w in h2)

        r = lab("doctor", name, "--fix")
        assert r.code == 1, r
        lines = r.out.splitlines()
        assert any(ln.startswith("h2: fixed: Open vSwitch port fdstray") for ln in lines), r
        assert any(ln.startswith("h1: strict rp_filter on underlay fabric-ul") and
                   ln.endswith("fix (left to you): sysctl -w "
                               "net.ipv4.conf.fabric-ul.rp_filter=2") for ln in lines), r
        assert "fdstray" not in on(name, "h2", "ip link")
    finally:
        assert lab("down", name).code == 0
