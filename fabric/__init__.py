"""fabric: a network-focused container fabric."""

__version__ = "0.1.0"
API_VERSION = "1.41"
