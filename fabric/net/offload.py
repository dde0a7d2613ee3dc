"""Transmit offloads of an interface, through ethtool's kernel interface (pyroute2).

Open vSwitch's userspace datapath reads a veth through a packet socket, which hands it
what the sender's stack left: TCP super-packets (up to 64 KiB, TSO/GSO) and packets
whose checksum the "hardware" was to fill in. OVS 3.1 forwards neither into a tunnel
(the packet is too big, or arrives with a bad checksum), so TCP stalls while ping
works. A container on such a bridge therefore sends finished packets: checksum, TSO
and GSO off on its side of the pair (`ethtool -K eth0 tx off tso off gso off`).
"""

from fabric.net import nsexec

TX_OFF = ("tx-checksum-ip-generic", "tx-tcp-segmentation", "tx-tcp6-segmentation",
          "tx-generic-segmentation")


def _set(ifname: str, on: bool) -> bool:
    from pyroute2.ethtool import Ethtool

    et = Ethtool()
    try:
        feats = et.get_features(ifname)
        changed = False
        for name in TX_OFF:
            f = feats.features.get(name)
            if f is not None and f.available and f.enable != on:
                f.enable = on
                changed = True
        if changed:
            et.set_features(ifname, feats)
        return changed
    finally:
        et.close()


def set_tx(ns: str | None, ifname: str, on: bool) -> bool:
    """Turn the transmit offloads on or off; False when they were so already."""
    return nsexec.run(ns, _set, ifname, on)
