"""Secrets never reach a log: values of secret-named keys are dropped and anything shaped like
a JWT is replaced, at any depth, by one processor (never at call sites)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

SECRET_KEYS = frozenset(
    {"authorization", "cookie", "set-cookie", "token", "password", "secret", "jwt", "assertion"}
)
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-named keys and anything shaped like a JWT, at any depth."""
    for key, value in event.items():  # assigning existing keys only: safe while iterating
        if is_secret(key):
            event[key] = REDACTED if value is not None else None
        elif value.__class__ is str:
            if "eyJ" in value:
                event[key] = JWT_SHAPE.sub(REDACTED, value)
        elif value.__class__ in _CONTAINERS:
            event[key] = _clean(key, value)
    return event


_CONTAINERS = (dict, list, tuple)


_secret_keys: dict[str, bool] = {}


def is_secret(key: str) -> bool:
    known = _secret_keys.get(key)
    if known is None:
        lower = key.lower()
        known = lower in SECRET_KEYS or any(s in lower for s in ("token", "password", "secret"))
        if len(_secret_keys) < 4096:  # log keys are a small fixed set; never grow unbounded
            _secret_keys[key] = known
    return known


def _clean(key: str, value: Any) -> Any:
    if is_secret(key):
        return REDACTED if value is not None else None
    if isinstance(value, str):
        return JWT_SHAPE.sub(REDACTED, value) if "eyJ" in value else value
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return value
