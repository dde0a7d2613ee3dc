"""Packet traces: one probe followed hop by hop through every host it crosses, with the
kernel's own tracing, and told in fabric's words (`fabric trace`, `fabric lab trace`).

Every rule, drop, route and interface is told through fabric/firewall/intent_words.py
(and verdict_words.py), the mapping `fabric firewall show` and `fabric doctor` use,
built in the daemon with names the caller brings for other hosts' addresses; this
package keeps what only a trace has: which packets are the probe's, the kernel's
events, and the hops.

What runs where: each host's daemon arms its namespaces (its own, its containers'),
reads what the kernel reported once the probe is done, asks its kernel (routes, FDB,
ARP, conntrack) and its Open vSwitch what they did, and answers with *passes*; the
caller (the CLI, a lab) arms every host, sends the probe through the source's
daemon, collects the passes and puts them in order. The caller's side imports
neither pyroute2 nor nftables.

In the daemon (kernel access):
  arming.py     the trace's own nftables tables (owner-flagged: gone with their socket)
  events.py     the kernel's trace events, read from NFNLGRP_NFTRACE
  ruleset.py    the namespace's chains and rules, by handle (and iptables-save's lines)
  lookups.py    routes, bridge and VXLAN FDB entries, ARP, over netlink
  ovs.py        a host's own ovs-vswitchd: ofproto/trace, fdb/show, dpif/show
  ovs_hops.py   the hops inside an OVS bridge and its tunnels
  conntrack.py  the probe's conntrack entries, forgotten afterwards
  walks.py      events into stops (one base chain's walk); a walk as a filter/nat hop
  passes.py     one namespace's stops into passes, hops and how each pass ended
  session.py    a daemon's traces in progress, each ending by itself if not ended

On the caller's side (pure, or the client only):
  match.py      which packets are the probe's, and the nft rules that say so
  packet.py     a trace event's headers as values
  model.py      hops and passes, as the daemons send them
  story.py      passes in the packet's order (by TTL), and the verdict line
  render.py     the story as text
  run.py        one trace: arm every host, send, collect, tell
  local.py      `fabric trace` on one host: names resolved through its daemon
"""
