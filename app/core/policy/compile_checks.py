"""The checks every section of a policy file shares: one document's error collector.

Section compilers take a `Checker` and record problems through it instead of raising, so one
pass reports every error with its place.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import timedelta
from typing import Any

from app.core.durations import DurationError, parse_duration
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.errors import PolicyError, did_you_mean
from app.core.policy.source import Located
from app.core.selectors import Rule


class Checker:
    """Walks one located document, building the model and recording every problem.

    `ok` turns false at the first problem, so a section knows not to build a half-checked
    value; `rules` is shared across the files of one compile so equal selectors share a Rule.
    """

    def __init__(
        self,
        located: Located,
        errors: list[PolicyError],
        rules: dict[Hashable, Rule] | None = None,
    ) -> None:
        self.doc = located
        self.errors = errors
        self.rules = {} if rules is None else rules
        self.ok = True

    def fail(self, path: str, code: PolicyErrorCode, message: str) -> None:
        """Record one problem at a JSON path of this document."""
        self.ok = False
        self.errors.append(self.doc.error(path, code, message))

    def mapping(self, value: Any, path: str, keys: Sequence[str], what: str) -> dict[str, Any]:
        """The value as a mapping (empty when it is not one), reporting keys outside `keys`."""
        if not isinstance(value, dict):
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, f"{what} must be a mapping")
            return {}
        for key in value:
            if key not in keys:
                self.fail(
                    f"{path}.{key}",
                    PolicyErrorCode.POLICY_UNKNOWN_KEY,
                    f"unknown key '{key}' in {what}{did_you_mean(key, keys)}",
                )
        return value

    def required(self, value: dict[str, Any], key: str, path: str, what: str) -> Any:
        """The value under `key`, or None after reporting it missing or empty."""
        if key not in value:
            self.fail(path, PolicyErrorCode.POLICY_MISSING_KEY, f"{what} needs '{key}'")
            return None
        if value[key] is None:  # `key:` left empty must not read as "absent, skip it"
            self.fail(
                f"{path}.{key}",
                PolicyErrorCode.POLICY_MISSING_KEY,
                f"{what} needs '{key}' (it is empty)",
            )
            return None
        return value[key]

    def string(self, value: Any, path: str, what: str) -> str | None:
        """A non-empty string, stripped, or None after reporting it."""
        if not isinstance(value, str) or not value.strip():
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, f"{what} must be a non-empty string")
            return None
        return value.strip()

    def integer(self, value: Any, path: str, what: str, *, low: int, high: int) -> int | None:
        """A whole number within bounds (a YAML boolean is not one), or None after reporting."""
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(
                path,
                PolicyErrorCode.POLICY_BAD_VALUE,
                f"{what} must be a whole number from {low} to {high}",
            )
            return None
        return value

    def duration(self, value: Any, path: str, default: timedelta) -> timedelta | None:
        """A duration string (`default` when absent), or None after reporting it."""
        if value is None:
            return default
        try:
            return parse_duration(value if isinstance(value, str) else repr(value))
        except DurationError as exc:
            self.fail(path, PolicyErrorCode.POLICY_BAD_DURATION, str(exc))
            return None
