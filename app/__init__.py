"""Countersign: a zero-trust policy decision point for reverse proxies."""

__version__ = "0.1.0"
