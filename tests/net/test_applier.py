"""The applier on a real kernel: rollback after a failure at any step."""

import pytest
from net_helpers import make_endpoint, make_network, root_only, snapshot

from fabric.errors import Conflict
from fabric.net import links, rtnl
from fabric.plan import (
    AddAddress,
    Applier,
    Context,
    EnsureBridge,
    InjectedFault,
    LinkUp,
    SetSysctl,
    fail_step,
    plan,
)
from fabric_plugins.bridge import BridgeDriver

pytestmark = root_only


def _ctx(host):
    return Context(host_ns=host)


def test_explain_prints_and_applies(host_ns):
    lines = []
    with _ctx(host_ns) as ctx:
        res = Applier(ctx, mode="explain", echo=lines.append).run(
            plan(EnsureBridge("br-x", tag="fabric:x"), LinkUp("br-x")))
        assert lines == res.commands and len(res.changed) == 2
        assert links.get(ctx.ipr(host_ns), "br-x").up
        # idempotent: a second run changes nothing
        assert not Applier(ctx).run(plan(EnsureBridge("br-x", tag="fabric:x"),
                                         LinkUp("br-x"))).changed


def _create_and_join(driver, net, ep, cns):
    return driver.plan_create(net) + driver.plan_join(net, ep, f"/run/netns/{cns}")


def test_rollback_after_failure_at_every_step(make_ns):
    host, cns = make_ns("host"), make_ns("c")
    d = BridgeDriver()
    net = make_network(d)
    ep = make_endpoint(net, "10.123.0.2")
    full = _create_and_join(d, net, ep, cns)
    before = (snapshot(host), snapshot(cns))
    for i in range(len(full)):
        with _ctx(host) as ctx:
            with pytest.raises(InjectedFault):
                Applier(ctx, fault=fail_step(i)).run(full)
        assert (snapshot(host), snapshot(cns)) == before, f"leftovers after step {i}"


def test_rollback_after_a_real_kernel_error(make_ns):
    host = make_ns("host")
    before = snapshot(host)
    bad = plan(EnsureBridge("br-y", tag="fabric:y"), LinkUp("br-y"),
               SetSysctl("net.ipv4.ip_forward", "1"),
               AddAddress("br-y", "10.5.0.1/24"), AddAddress("no-such-if", "10.6.0.1/24"))
    with _ctx(host) as ctx:
        with pytest.raises(Exception) as e:
            Applier(ctx).run(bad)
    assert "no-such-if" in str(e.value)
    assert snapshot(host) == before


def test_rollback_leaves_what_existed_before(make_ns):
    host = make_ns("host")
    with _ctx(host) as ctx:
        Applier(ctx).run(plan(EnsureBridge("br-z"), LinkUp("br-z")))  # "made by hand"
        before = snapshot(host)
        with pytest.raises(InjectedFault):
            Applier(ctx, fault=fail_step(3)).run(
                plan(EnsureBridge("br-z", tag="fabric:z"), LinkUp("br-z"),
                     AddAddress("br-z", "10.7.0.1/24"), LinkUp("lo")))
        assert snapshot(host) == before


def test_collision_with_a_foreign_interface_is_a_conflict_and_it_survives(make_ns):
    host, cns = make_ns("host"), make_ns("c")
    d = BridgeDriver()
    net = make_network(d)
    ep = make_endpoint(net, "10.123.0.2")
    with _ctx(host) as ctx:
        Applier(ctx).run(d.plan_create(net))
        ipr = ctx.ipr(host)
        links.add_bridge(ipr, ep.host_ifname)  # someone else's, same name
        with pytest.raises(Conflict):
            Applier(ctx).run(d.plan_join(net, ep, f"/run/netns/{cns}"))
        assert links.get(ipr, ep.host_ifname) is not None


def test_teardown_is_best_effort_and_reports_together(host_ns):
    with rtnl.Session() as s, _ctx(host_ns) as ctx:
        links.add_bridge(s(host_ns), "br-a", alias="fabric:a")
        from fabric.plan import DeleteLink, Plan
        p = Plan((DeleteLink("br-a", tag="fabric:a"), DeleteLink("br-gone"),
                  DeleteLink("br-b")), best_effort=True)
        with pytest.raises(Exception) as e:
            Applier(ctx, fault=fail_step(1)).run(p)
        assert "teardown incomplete" in str(e.value)
        assert links.get(s(host_ns), "br-a") is None


def test_a_half_made_bridge_is_claimed_and_then_removed_with_its_network(host_ns):
    """A daemon killed between adding a network's bridge and tagging it (two netlink
    requests) leaves an untagged bridge with the name only that network derives: the
    next create claims it, and the network's removal deletes it."""
    driver = BridgeDriver()
    net = make_network(driver)
    br = driver.bridge_name(net)
    with _ctx(host_ns) as ctx:
        links.add_bridge(ctx.ipr(host_ns), br)          # made, never tagged
        Applier(ctx).run(driver.plan_create(net))
        assert links.get(ctx.ipr(host_ns), br).alias == net.tag
        Applier(ctx).run(driver.plan_delete(net))
        assert links.get(ctx.ipr(host_ns), br) is None
        # a bridge the user named is never claimed
        named = make_network(driver, options={"bridge.name": "brhand"})
        links.add_bridge(ctx.ipr(host_ns), "brhand")
        Applier(ctx).run(driver.plan_create(named))
        Applier(ctx).run(driver.plan_delete(named))
        assert links.get(ctx.ipr(host_ns), "brhand") is not None
