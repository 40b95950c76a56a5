"""Wiring: build every adapter and service from Settings, once per process.

`checks` (what `serve` checks before workers start), `parts` (each part built from its own
settings group), `lifespan` (background work), `routes` (the FastAPI application) and
`service` (the whole service, forward-auth in front).
"""

from app.bootstrap.checks import durability_refusal, prepare_process
from app.bootstrap.service import build, build_from_environment

__all__ = ["build", "build_from_environment", "durability_refusal", "prepare_process"]
