"""Selector kinds. Each lives in its own module and registers itself by name on import."""

from app.core.selectors import (  # noqa: F401  (imported for registration)
    auth_method,
    claim,
    country,
    device,
    email,
    email_domain,
    everyone,
    group,
    ip,
    time,
)
from app.core.selectors.base import REGISTRY, Rule, SelectorError, SelectorKind

__all__ = ["REGISTRY", "Rule", "SelectorError", "SelectorKind"]
