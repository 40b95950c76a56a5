"""Step-up for approvers: whether a reviewer's sign-in meets the policy's `reviewers_need`.

MFA means the identity's `amr` (RFC 8176) names a multi-factor result (`mfa`, `mca`) or a
second factor beyond a password: a one-time code, a hardware or software key, a smart card,
an SMS code, or a biometric. `pwd`, `pin`, `kba` and the like never count alone.
Recent means `auth_time` (epoch seconds, the OIDC claim of when the person last authenticated
at the provider) is at most `max_auth_age` before `now`; a missing or unreadable `auth_time` is
never recent, and one ahead of `now` counts only within CLOCK_SKEW (the provider's clock and
ours may differ a little; a sign-in from the far future is a broken or forged claim).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from app.core.approvals.errors import StepUpRequiredError
from app.core.context import Identity
from app.core.policy.model import ReviewerRequirement

#: The `amr` values that show a second factor (lower-case; compared case-insensitively).
MFA_METHODS = frozenset(
    {"mfa", "mca", "otp", "hwk", "swk", "sc", "sms", "fpt", "face", "iris", "retina"}
)
#: How far ahead of `now` an `auth_time` may be and still count as "just now".
CLOCK_SKEW = timedelta(seconds=60)
#: The shortfalls a StepUpRequiredError names.
MISSING_MFA = "mfa"
MISSING_RECENT_SIGN_IN = "recent-sign-in"


def has_mfa(identity: Identity) -> bool:
    """Whether the identity's `amr` names a second factor."""
    return any(method.lower() in MFA_METHODS for method in identity.amr)


def auth_time_of(identity: Identity) -> int | None:
    """The `auth_time` claim in whole epoch seconds, or None when absent or not a number."""
    value = identity.claims.get("auth_time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def signed_in_within(identity: Identity, max_age: timedelta, *, now: datetime) -> bool:
    """Whether the identity authenticated at most `max_age` before `now` (see CLOCK_SKEW)."""
    seconds = auth_time_of(identity)
    if seconds is None:
        return False
    try:
        at = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return False
    return now - max_age <= at <= now + CLOCK_SKEW


def shortfall(identity: Identity, need: ReviewerRequirement, *, now: datetime) -> tuple[str, ...]:
    """What the identity lacks to meet `need` at `now`: () when it meets it."""
    missing: list[str] = []
    if need.mfa and not has_mfa(identity):
        missing.append(MISSING_MFA)
    if need.max_auth_age is not None and not signed_in_within(identity, need.max_auth_age, now=now):
        missing.append(MISSING_RECENT_SIGN_IN)
    return tuple(missing)


def require_step_up(identity: Identity, need: ReviewerRequirement | None, *, now: datetime) -> None:
    """Raise StepUpRequiredError (step-up-required) unless the identity meets `need`."""
    if need is None:
        return
    missing = shortfall(identity, need, now=now)
    if missing:
        raise StepUpRequiredError(mfa=need.mfa, max_age=need.max_age_seconds, missing=missing)
