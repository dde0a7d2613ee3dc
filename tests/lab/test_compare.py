"""`fabric lab compare`: the two-host compare lab carried by several drivers in turn, a
row per driver with its expectations passed and positive measurements; nothing left
between or after the drivers, also when interrupted; bad input refused in one line
with nothing made."""

import json
import os
import signal
import subprocess

from lab.labcli import FABRIC, LABS_DIR, lab, lab_file, leftovers, root_snapshot, unique

FAST = ("-t", "1", "--pings", "20", "--starts", "1")


def labs_of(run: str, drivers: str) -> list[str]:
    return [f"{run}-{d}" for d in drivers.split(",")]


def nothing_left(run: str, drivers: str) -> None:
    for name in labs_of(run, drivers):
        assert leftovers(name) == [], name
    assert not [d for d in os.listdir(LABS_DIR) if d.startswith(run)]


def test_compare_gives_a_row_per_driver_with_expectations_and_numbers():
    before = root_snapshot()
    run = unique("cmp")
    drivers = "bridge,routing,mesh"
    r = lab("compare", lab_file("compare-2"), "--network", "cnet", "--drivers", drivers,
            "--name", run, "--json", *FAST, timeout=300)
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert (doc["network"], doc["from"], doc["to"]) == (
        "cnet", {"container": "a", "host": "h1"}, {"container": "b", "host": "h2"})
    rows = {d["driver"]: d for d in doc["drivers"]}
    assert list(rows) == drivers.split(",") and doc["passed"] is True
    for name, row in rows.items():
        assert row["lab"] == f"{run}-{name}" and row["error"] is None, row
        assert row["expectations"] == {"total": 4, "passed": 4, "failed": []}, row
        assert row["throughput_bps"] > 0 and row["rtt_ms"] > 0 and row["reach_s"] > 0, row
        assert all(row["seconds"][k] > 0 for k in ("up", "test", "measure", "down", "total"))
    # what was rewritten, and what it costs: VXLAN's 50 bytes come off the MTU
    assert rows["routing"]["rewritten"] == "cnet: as written"
    assert "options uplink=eth0" in rows["bridge"]["rewritten"]
    assert "subnet 10.40.0.0/16 -> 192.168.18.0/24" in rows["bridge"]["rewritten"]
    assert rows["mesh"]["rewritten"] == "cnet: driver routing -> mesh"
    assert (rows["bridge"]["mtu"], rows["routing"]["mtu"], rows["mesh"]["mtu"]) == \
        (1500, 1500, 1450)
    nothing_left(run, drivers)
    assert root_snapshot() == before


def test_compare_prints_what_it_rewrote_and_a_table():
    run = unique("cmpt")
    r = lab("compare", lab_file("compare-2"), "--network", "cnet", "--drivers", "mesh",
            "--name", run, *FAST, timeout=300)
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == (f"lab {run}, network cnet: measured from a on h1 to b on h2 "
                        "(iperf3 1 s, 20 pings, 1 starts)")
    assert lines[1].split() == ["mesh", "cnet:", "driver", "routing", "->", "mesh"]
    header = next(i for i, ln in enumerate(lines) if ln.startswith("DRIVER"))
    assert lines[header].split()[:4] == ["DRIVER", "CARRIED", "BY", "MTU"]
    row = lines[header + 1].split()
    assert row[:6] == ["mesh", "VXLAN", "(kernel)", "1450", "4/4", row[5]]
    assert float(row[5]) > 0 and row[6] in ("Gbit/s", "Mbit/s"), row
    assert len(lines) == header + 2, r.out        # nothing failed, nothing to say
    nothing_left(run, "mesh")


def test_ctrl_c_takes_the_lab_that_is_up_down():
    run = unique("cmpi")
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    p = subprocess.Popen(FABRIC + ["lab", "compare", lab_file("compare-2"), "--network",
                                   "cnet", "--drivers", "routing,mesh", "--name", run,
                                   "-t", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        assert p.stderr is not None
        for line in p.stderr:        # progress, one line a step
            if "iperf3" in line:
                break
        assert leftovers(f"{run}-routing"), "nothing up when interrupted: proves nothing"
        os.killpg(p.pid, signal.SIGINT)      # as a terminal's Ctrl-C: the whole group
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, (out, err)
    assert "interrupted: the lab that was up is down again" in err
    assert "taking lab" in err and f"{run}-mesh" not in err     # it stopped there
    nothing_left(run, "routing,mesh")


def refused(*args: str, env: dict | None = None, run: str = "") -> str:
    """Run compare, which must refuse: exit 125, one line, nothing made."""
    before = root_snapshot()
    run = run or unique("cmpbad")
    cmd = FABRIC + ["lab", "compare", *args, "--name", run]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=env or {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"})
    assert p.returncode == 125 and p.stdout == "", p
    assert len(p.stderr.splitlines()) == 1, p.stderr
    nothing_left(run, "bridge,routing,mesh,ovs")
    assert root_snapshot() == before
    return p.stderr.strip()


def test_bad_input_is_one_line_and_makes_nothing():
    two = lab_file("compare-2")
    assert refused(two, "--network", "cnet", "--drivers", "routing,vxlan") == \
        "Error: --drivers: unknown driver 'vxlan' (known: bridge, routing, mesh, ovs)"
    assert refused(two, "--network", "lan", "--drivers", "routing") == \
        f"{two}:15: networks: no network 'lan' (known: cnet)"
    # b pins 10.40.1.10, which the uplink's LAN cannot hold
    run = unique("cmpbad")
    assert refused(lab_file("routing-2"), "--network", "cnet", "--drivers", "routing,bridge",
                   run=run) \
        == (f"Error: bridge cannot carry lab {run}: the uplink puts network cnet on "
            "192.168.18.0/24, but container b pins 10.40.1.10 of 10.40.0.0/16 on it; leave "
            "it out of --drivers")
    # a network over the hosts' own LAN cannot be routed or tunnelled
    assert "a mesh network needs a subnet of its own" in refused(
        lab_file("uplink-bridge"), "--network", "lan-net", "--drivers", "mesh")


def test_a_missing_open_vswitch_is_refused_before_anything_is_made():
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    env["PATH"] = "/usr/bin:/bin"        # Open vSwitch's daemons live in /usr/sbin
    line = refused(lab_file("compare-2"), "--network", "cnet", "--drivers", "routing,ovs",
                   env=env)
    assert line.startswith("Error: ovs: Open vSwitch is not installed"), line
    assert line.endswith("leave it out of --drivers"), line
