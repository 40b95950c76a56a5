"""Refusals the services raise besides the core's ApprovalError."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class NotVisibleError(LookupError):
    """No such record, or the caller may not see it: both answer 404 (no existence oracle)."""


class ScopeError(PermissionError):
    """A service token lacks the scope for this call, or a call needs a human (403)."""


class NotRequestable(StrEnum):
    """Why a user cannot ask for access; the value is the stable code the API and pages show."""

    NO_POLICY_ALLOWS = "no-policy-allows-a-request"
    NEEDS_NO_REQUEST = "access-needs-no-request"


#: What a person is told for each reason: one wording for the API's problem detail and the page.
NOT_REQUESTABLE_WORDING: Mapping[NotRequestable, str] = MappingProxyType(
    {
        NotRequestable.NO_POLICY_ALLOWS: "No policy of this application lets you ask for access.",
        NotRequestable.NEEDS_NO_REQUEST: (
            "You do not need to ask: this application lets you in as you are."
        ),
    }
)


class NotRequestableError(PermissionError):
    """No policy of the application lets this user ask for access (403)."""

    def __init__(self, reason: NotRequestable) -> None:
        super().__init__(reason.value)
        self.reason = reason

    @property
    def wording(self) -> str:
        """The sentence a person reads for this reason."""
        return NOT_REQUESTABLE_WORDING[self.reason]


class BadCursorError(ValueError):
    """A pagination cursor this service did not hand out (422)."""
