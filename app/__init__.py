"""Countersign: a zero-trust policy decision point for reverse proxies."""

#: The release; pyproject.toml carries the same number (a test keeps them equal).
__version__ = "0.1.0"
