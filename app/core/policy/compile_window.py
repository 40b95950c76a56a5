"""Compiling `approval.starts_within`: how far ahead a planned window may start.

Left out, the policy uses model.DEFAULT_STARTS_WITHIN and keeps its fingerprint; written, it
is part of the approval requirement a grant was issued under.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.core.durations import in_words
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_checks import Checker

#: Under a minute a planned window is no plan; beyond a year nobody remembers why.
MIN_STARTS_WITHIN = timedelta(minutes=1)
MAX_STARTS_WITHIN = timedelta(days=365)


def compile_starts_within(check: Checker, body: dict[str, Any], path: str) -> timedelta | None:
    """The written `starts_within`, or None when absent (or after reporting a bad value)."""
    if "starts_within" not in body:
        return None
    where = f"{path}.starts_within"
    value = check.duration(body["starts_within"], where, MIN_STARTS_WITHIN)
    if value is None:
        return None
    if not MIN_STARTS_WITHIN <= value <= MAX_STARTS_WITHIN:
        check.fail(
            where,
            PolicyErrorCode.POLICY_BAD_VALUE,
            f"starts_within must be between {in_words(MIN_STARTS_WITHIN)}"
            f" and {in_words(MAX_STARTS_WITHIN)}",
        )
        return None
    return value
