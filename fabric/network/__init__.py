"""The network core: networks, endpoints, names and published ports of one host.

It imports nothing of the engine; the engine calls it (fabric/engine/networking.py).

  core.py               NetworkCore: what the engine holds; built from a HostContext
  context.py            HostContext (the host, as one typed value) and ClusterStore
  service.py            NetworkService: settings, the one lock, plan modes, records, drivers
  driver.py             the driver API (FirewallFacts included) and the driver registry
  networks.py           create, remove, prune, reconcile; the default bridge
  shared.py             networks the hosts of a cluster share: joined and left
  peering.py            each host wired to the other members of those networks
  slicing.py            each member host's slice of a shared network's subnet (pure)
  registry.py           the endpoint registry's records: which MAC and tunnel end stand
                        behind each address of a shared network (pure)
  remotes.py            each host made to match the registry: other hosts' containers
                        programmed in (tunnel drivers), named in /etc/hosts
  underlay.py           the host NIC a tunnel rides on, recorded when the host joins
  meshes.py             `fabric mesh`: launch, connect, forget, the mesh holding an address
  mesh_status.py        `fabric mesh status`: peers, pool, names, programmed entries
  uplinks.py            a host NIC a network takes over, recorded as found
  attachments.py        containers on networks: attach, detach, connect, disconnect
  endpoints.py          one endpoint: recorded with its address, wired by its driver
  allocator.py          AddressAllocator: this host's own, and leases in the cluster store
  ipam.py               subnets and addresses (pure)
  names.py              the names a container resolves through /etc/hosts
  publishing.py         -p/-P: host ports chosen, taken ones refused
  reconcile.py          at daemon start: endpoints made to agree with containers, kernel
  leftovers.py          a default bridge an earlier root left, adopted
  docker_links.py       Docker's --link: hosts names, variables, ports (pure)
  firewall_intent.py    the FirewallIntent, from records (pure)
  firewall_rendering.py the intent through the host's firewall backend; users' rules
  user_rules.py         users' firewall rules in the store
  requests.py           what the engine asks, and gets back (plain values)
  store.py              networks and endpoints in the host's SQLite store
  model.py              networks and endpoints as drivers see them
  settings.py           the daemon's network settings; options.py: their values
  inspect.py            networks as Docker's Engine API shows them
"""
