"""The compiled policy model: immutable values built once at load time, read on every request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING

from app.core.context import Identity
from app.core.selectors.base import Rule

if TYPE_CHECKING:  # emergency builds on Approver; at run time the names are only annotations
    from app.core.policy.emergency import BreakGlass, Escalation


class Action(Enum):
    """What a matching policy does."""

    ALLOW = "allow"
    BLOCK = "block"
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class Justification:
    """A purpose the user must state; recorded, and valid for `session_duration`."""

    prompt: str
    min_length: int
    max_length: int
    pattern: re.Pattern[str] | None
    session_duration: timedelta

    def problem_with(self, text: str) -> str | None:
        """Why `text` is not an acceptable justification, or None when it is."""
        stripped = text.strip()
        if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
            return "justification-control-characters"
        if len(stripped) < self.min_length:
            return "justification-too-short"
        if len(stripped) > self.max_length:
            return "justification-too-long"
        if self.pattern is not None and not self.pattern.search(stripped):
            return "justification-pattern-mismatch"
        return None


@dataclass(frozen=True, slots=True)
class Approver:
    """Who may approve: everyone in a group, or one email. `required` counts per group."""

    kind: str  # "group" | "email"
    value: str
    required: int = 0

    def covers(self, identity: Identity) -> bool:
        """Whether this entry makes `identity` an approver."""
        if self.kind == "email":
            return identity.email == self.value
        return self.value in identity.groups


@dataclass(frozen=True, slots=True)
class ReviewerRequirement:
    """`reviewers_need`: how an approver must have signed in to approve (step-up).

    `mfa`: the sign-in used a second factor (see core.approvals.step_up for the methods);
    `max_auth_age`: the sign-in is at most this old. At least one of them is set.
    """

    mfa: bool = False
    max_auth_age: timedelta | None = None

    @property
    def max_age_seconds(self) -> int | None:
        """`max_auth_age` in whole seconds, as OIDC's `max_age` and RFC 9470 speak it."""
        return None if self.max_auth_age is None else int(self.max_auth_age.total_seconds())


#: How far ahead a planned window may start when the policy does not say (`starts_within`).
DEFAULT_STARTS_WITHIN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Approval:
    """A second opinion: N of M distinct approvers, for at most `max_duration`."""

    approvers: tuple[Approver, ...]
    approvals_required: int
    default_duration: timedelta
    max_duration: timedelta
    pending_ttl: timedelta
    reviewers_need: ReviewerRequirement | None = None
    #: How far ahead a planned window may start (`starts_within`); None: DEFAULT_STARTS_WITHIN.
    starts_within: timedelta | None = None
    #: Fallback approvers and the delay before they may review (core.policy.emergency).
    escalation: Escalation | None = None

    @property
    def start_horizon(self) -> timedelta:
        """The furthest ahead a requested `starts_at` may lie."""
        return self.starts_within if self.starts_within is not None else DEFAULT_STARTS_WITHIN

    def is_approver(self, identity: Identity) -> bool:
        """Whether `identity` is listed (self-approval is refused elsewhere)."""
        return any(a.covers(identity) for a in self.approvers)

    def is_fallback_approver(self, identity: Identity) -> bool:
        """Whether `identity` may review once a request has escalated (`escalate_to`)."""
        return self.escalation is not None and self.escalation.covers(identity)


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy of an application, in the order written."""

    name: str
    index: int
    action: Action
    include: tuple[Rule, ...]
    require: tuple[Rule, ...]
    exclude: tuple[Rule, ...]
    justification: Justification | None = None
    approval: Approval | None = None
    #: SHA-256 of the application id, the name and the approval and justification blocks, set
    #: by the compiler (core.policy.fingerprint); grants count only under an equal fingerprint.
    fingerprint: str = ""
    #: Who may grant themselves access in an emergency (core.policy.emergency).
    break_glass: BreakGlass | None = None

    @property
    def needs_grant_state(self) -> bool:
        """Whether deciding under this policy needs the grant store."""
        return self.action is Action.ALLOW and (
            self.approval is not None or self.justification is not None
        )


@dataclass(frozen=True, slots=True)
class Application:
    """A protected application: where it lives and the policies that guard it."""

    id: str
    name: str
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    policies: tuple[Policy, ...]
    source: str

    @property
    def needs_grant_state(self) -> bool:
        """Whether any policy of this application can need the grant store."""
        return any(p.needs_grant_state for p in self.policies)

    def policy_named(self, name: str) -> Policy | None:
        """The policy with this name, if any."""
        return next((p for p in self.policies if p.name == name), None)
