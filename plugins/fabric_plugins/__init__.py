"""Network drivers shipped with fabric, registered under the fabric.drivers entry points."""
