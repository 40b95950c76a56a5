"""Secrets never reach a log: values of secret-named keys are dropped and anything shaped like
a token (a JWT, a Countersign service token) is replaced, at any depth, by one processor for
structlog lines and by `scrub_record` for decision records (never at call sites)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

SECRET_KEYS = frozenset(
    {"authorization", "cookie", "set-cookie", "token", "password", "secret", "jwt", "assertion"}
)
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
#: A REST API service token (`cst_` + 43 URL-safe characters; see app.cli.token); the bound
#: below the real length also catches one cut short by a proxy or a client.
SERVICE_TOKEN_SHAPE = re.compile(r"cst_[A-Za-z0-9_-]{16,}")
#: Every token shape a log must never hold.
TOKEN_SHAPE = re.compile(f"{JWT_SHAPE.pattern}|{SERVICE_TOKEN_SHAPE.pattern}")
#: What every token shape starts with: a cheap test before the regular expression runs.
TOKEN_MARKERS = ("eyJ", "cst_")
_BYTE_MARKERS = tuple(marker.encode() for marker in TOKEN_MARKERS)
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """`text` with every token-shaped part replaced by REDACTED."""
    if "eyJ" in text or "cst_" in text:
        return TOKEN_SHAPE.sub(REDACTED, text)
    return text


def may_hold_token(data: bytes) -> bool:
    """Whether serialised `data` could hold a token: False is certain, True needs a scrub."""
    return _BYTE_MARKERS[0] in data or _BYTE_MARKERS[1] in data


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-named keys and anything shaped like a token, at any depth."""
    for key, value in event.items():  # assigning existing keys only: safe while iterating
        if is_secret(key):
            event[key] = REDACTED if value is not None else None
        elif value.__class__ is str:
            event[key] = scrub(value)
        elif value.__class__ in _CONTAINERS:
            event[key] = _clean(key, value)
    return event


def scrub_record(record: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A decision record with every token-shaped string replaced, keys of nested mappings
    included (a claim's name is configured, its value is whatever the token said)."""
    for key, value in record.items():  # assigning existing keys only: safe while iterating
        record[key] = _clean(key, value)
    return record


_CONTAINERS = (dict, list, tuple)


_secret_keys: dict[str, bool] = {}


def is_secret(key: str) -> bool:
    """Whether a value under `key` is a secret by its name alone."""
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
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return value
