"""The trace tests run labs as tests/lab does (its labcli: a labs directory of the
tests' own, and what a lab may leave behind)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
