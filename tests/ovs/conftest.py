"""Tests of the ovs driver reuse the cluster tests' lab hosts (tests/cluster/multihost.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cluster"))
