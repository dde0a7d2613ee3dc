"""Open vSwitch, as fabric runs and reaches it: one private instance per host.

Each host that has an ovs network runs its own ovsdb-server and ovs-vswitchd, started
inside the host's namespace by its daemon (a plan step, fabric/plan/ovs_ops.py), with
every file they keep under the host's root, `<root>/ovs`: the database `conf.db`, the
socket `db.sock`, pidfiles, control sockets and logs. The machine's own Open vSwitch
(/var/run/openvswitch, /etc/openvswitch) is never read or touched: the daemons get
OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR pointing there. A host teardown
finds them by namespace identity and by their command lines naming the root, like any
process of the host (fabric/host/teardown.py), and removes the directory with the root.

  daemons.py    the instance: installed?, which datapath, start, stop, running
  db.py         its database through ovsdbapp (OVSDB's own protocol, never ovs-vsctl
                output), and fabric's ownership keys in external_ids
  underlay.py   the userspace datapath's underlay bridge: the host's NIC and address
                taken over so OVS can send its own tunnels, and given back
"""
