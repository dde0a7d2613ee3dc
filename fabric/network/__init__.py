"""Networks: the driver API, IPAM, and (in manager.py) what the engine calls."""
