"""Hypothetical requests for `policy explain` and policy tests: the target URL and the grant
store's answer, built the way the forward-auth path would see them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from app.core.decision import NO_GRANTS, GrantState
from app.core.paths import HostError, PathError, normalize_host, normalize_path

GRANT_CHOICES = ("true", "false", "expired", "unavailable")
#: How long the grant of `grant: true` (and `countersign policy explain --grant`) lasts.
GRANT_LIFETIME = timedelta(hours=1)


class TargetError(ValueError):
    """A URL that cannot be a request target (not absolute http(s), bad host or path)."""


def parse_url(url: str) -> tuple[str, str, str]:
    """`https://App.example.com/a/../b?x` → ("https", "app.example.com", "/b")."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise TargetError(f"'{url}' is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"'{url}' is not an absolute http(s) URL")
    if "@" in parts.netloc:
        raise TargetError(f"'{url}' holds user information; give the host only")
    try:
        host = normalize_host(parts.netloc)
        path = normalize_path(parts.path or "/")
    except (HostError, PathError) as exc:
        raise TargetError(f"'{url}': {exc}") from None
    return parts.scheme, host, path


def grant_state(kind: str, *, pending: bool, now: datetime) -> GrantState | None:
    """The grant store's answer for a (user, application) in a test or an explain.

    `true`: an active grant (and a justified session) for `GRANT_LIFETIME`; `expired`: both
    ran out a minute ago; `false`: none; `unavailable`: the store could not answer (None).
    """
    if kind == "unavailable":
        return None
    request = "test-request" if pending else None
    if kind == "true":
        until = now + GRANT_LIFETIME
        return GrantState(until, "test-grant", until, request)
    if kind == "expired":
        ended = now - timedelta(minutes=1)
        return GrantState(ended, "test-grant", ended, request)
    return GrantState(pending_request_id=request) if pending else NO_GRANTS


def claim_value(text: str) -> Any:
    """A claim given on the command line: JSON scalars (`3`, `true`, `"x"`) or a plain string."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool) else text
