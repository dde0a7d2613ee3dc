"""Hosts on this machine: a network namespace, a root and the daemon serving it.

- `hosts`: make, find, list and remove hosts (`fabric host add|ls|rm`);
- `registry`: the records under the hosts directory and how a name given to `-H`
  resolves; standard library only, because the CLI reads it on every `-H NAME`;
- `daemon`: start a root's daemon inside its namespace, find it, stop it;
- `teardown`: remove everything a root and its namespaces hold, from tags and pidfiles,
  also after a crash;
- `bare`: namespaces without root or daemon, for kernel-level tests and benchmarks;
- `procs`: what /proc says about processes (pidfiles checked, namespace members).

Nothing is imported here, so `import fabric.host.registry` stays cheap.
"""
