"""Adapters: translate between the outside world (HTTP, tokens, Redis, files) and the core."""
