"""oncall: a self-hosted on-call service."""

__version__ = "0.1.0"
