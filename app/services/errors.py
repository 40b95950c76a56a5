"""Refusals the services raise besides the core's ApprovalError."""

from __future__ import annotations


class NotVisibleError(LookupError):
    """No such record, or the caller may not see it: both answer 404 (no existence oracle)."""


class ScopeError(PermissionError):
    """A service token lacks the scope for this call, or a call needs a human (403)."""


class NotRequestableError(PermissionError):
    """No policy of the application lets this user ask for access (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadCursorError(ValueError):
    """A pagination cursor this service did not hand out (422)."""
