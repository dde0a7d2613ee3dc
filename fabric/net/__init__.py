"""Kernel access: thin, typed wrappers over pyroute2.

Every function here takes an open `IPRoute` (from `rtnl.open_ns` or a `rtnl.Session`)
or a namespace reference, never enters a namespace from the calling thread, and never
runs `ip`, `bridge`, `sysctl` or `nft` as a subprocess. Layers above describe their
changes as shell commands but apply them only through this package.
"""
