"""`fabric lab trace` through each overlay: the ovs driver (GRE between each host's own
Open vSwitch: the OVS flow from ofproto/trace, the tunnel's encapsulation and
decapsulation) and the mesh driver (kernel VXLAN: the FDB entry naming the remote
VTEP, the decapsulation on the other host, icc=false across hosts)."""

import pytest
from lab.labcli import lab_file, unique
from tracehelp import hops, lab_down, lab_trace, lab_up, one

from fabric.network.driver import DriverRegistry
from fabric.ovs import daemons


@pytest.mark.skipif(not daemons.installed(), reason=daemons.MISSING)
def test_ovs_gre_the_flow_the_encapsulation_and_the_way_back():
    name = lab_up(lab_file("ovs-flat"), unique("ovs-flat"))
    try:
        doc = lab_trace(name, "a", "b")
    finally:
        lab_down(name)
    assert doc["result"] == "ok", doc["verdict"]
    flow = one(doc, "bridge", host="h1", namespace="a")
    assert flow["rule"].startswith("OVS 0. priority 0; NORMAL")
    assert flow["interface"].startswith("fv") and "(a) -> ft" in flow["interface"]
    assert flow["interface"].endswith("(gre to h2)")
    enc = one(doc, "encap", host="h1", verdict="encap")
    assert "remote_ip=192.168.18.12" in enc["rule"] and enc["rule"].startswith("gre key=")
    assert enc["reason"] == "GRE to h2 (192.168.18.12)"
    dec = one(doc, "decap", host="h2", namespace="b")
    assert dec["reason"] == "from h1 (192.168.18.11) through the GRE tunnel"
    one(doc, "bridge", host="h2", namespace="b", interface="(gre to h1) -> ")
    one(doc, "route", host="h2", namespace="b", verdict="deliver")
    stages = [x["stage"] for x in hops(doc)]
    assert stages.index("encap") < stages.index("decap")
    one(doc, "encap", "reply", host="h2", rule="remote_ip=192.168.18.11")
    one(doc, "decap", "reply", host="h1", namespace="a")


@pytest.mark.skipif("mesh" not in DriverRegistry.from_entry_points().names(),
                    reason="the mesh driver is not installed yet (the mesh branch brings it)")
def test_mesh_vxlan_the_fdb_entry_naming_the_remote_vtep_and_icc_across_hosts():
    name = lab_up(lab_file("mesh-3"), unique("mesh-3"))
    try:
        doc = lab_trace(name, "a", "b")
        quiet = lab_trace(name, "qa", "qc")
    finally:
        lab_down(name)
    assert doc["result"] == "ok", doc["verdict"]
    br = one(doc, "bridge", host="h1", namespace="host", reason="into the VXLAN device")
    vx = br["interface"].split(" -> ")[1]
    enc = one(doc, "encap", host="h1", verdict="encap")
    assert enc["rule"].endswith(f"dev {vx} dst 192.168.18.12")     # the FDB entry
    assert enc["reason"].startswith("VXLAN VNI ") and enc["reason"].endswith(
        "to VTEP h2 (192.168.18.12)")
    assert enc["interface"] == f"{vx} -> eth0"
    dec = one(doc, "decap", host="h2", verdict="decap")
    assert dec["interface"] == f"eth0 -> {vx}" and dec["reason"] == "from VTEP h1 (192.168.18.11)"
    one(doc, "bridge", host="h2", reason="to b's port")
    one(doc, "route", host="h2", namespace="b", verdict="deliver")
    one(doc, "encap", "reply", host="h2", rule="dst 192.168.18.11")
    one(doc, "decap", "reply", host="h1")
    assert quiet["verdict"] == ("dropped: icc=false on network quiet; containers qa and qc "
                                "are not linked")
