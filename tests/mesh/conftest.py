"""The mesh tests make their lab hosts as tests/cluster's do (multihost.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cluster"))
