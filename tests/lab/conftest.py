"""Two hosts on one lab segment, as `lab up` builds them:

    a 10.66.0.1 eth0 ── pa [seg: br0] pb ── eth0 10.66.0.2 b
"""

from dataclasses import dataclass

import pytest
from probe.topo import Topo


@dataclass
class Segment:
    topo: Topo
    a: str
    b: str
    seg: str


@pytest.fixture(scope="module")
def segment():
    topo = Topo("fl")
    try:
        a, b, seg = (topo.ns(role) for role in ("a", "b", "seg"))
        topo.bridge(seg)
        topo.port(seg, a, "eth0", "pa", "10.66.0.1/24")
        topo.port(seg, b, "eth0", "pb", "10.66.0.2/24")
        yield Segment(topo, a, b, seg)
    finally:
        topo.close()
