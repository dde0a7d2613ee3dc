"""`fabric doctor`: what silently breaks labs and container networking on a host, each
finding one line with the command that fixes it, and `--fix` for what fabric owns.

  run.py             every check, in order; --fix: repair, look again, say what is left
  scene.py           what fabric knows of the host (records, intent, settings), gathered once
  findings.py        a finding: what, the fix command, the repair when fabric owns it
  firewall_state.py  fabric's nft tables or iptables chains missing or drifted (repair: render)
  coexistence.py     Docker's FORWARD DROP (fabric's DOCKER-USER rule missing), other drops
  sysctls.py         ip_forward off; strict rp_filter on an underlay
  underlays.py       which interfaces are the host's underlay
  overlap.py         routes and addresses that take a network's subnet away
  mtu.py             tunnels wrapping more than their underlay carries (MTU black holes)
  orphans.py         tagged interfaces, proto-251 routes and container namespaces of nothing
  ovs_orphans.py     Open vSwitch bridges and ports with fabric's marks of nothing
  ovs_view.py        the host's Open vSwitch, read once

It runs inside the host's daemon (GET /fabric/doctor, POST /fabric/doctor?fix=1),
which sees the host's namespace and holds its store; `fabric lab doctor` asks every
host of a lab and adds what only the lab sees (fabric/lab/doctor.py).
"""
