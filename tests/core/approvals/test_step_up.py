"""Step-up for approvers: a policy's `reviewers_need` (MFA, a recent sign-in) gates approvals,
never denials, and every review's audit entry records how the reviewer signed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.approvals import (
    ApprovalError,
    ErrorCode,
    EventType,
    RequestStatus,
    StepUpRequiredError,
    review,
)
from app.core.approvals.errors import Category
from app.core.approvals.step_up import (
    CLOCK_SKEW,
    MFA_METHODS,
    auth_time_of,
    has_mfa,
    shortfall,
    signed_in_within,
)
from app.core.context import Identity
from app.core.policy.model import Policy, ReviewerRequirement
from tests.core.approvals.people import APPROVE, BOB, DENY, NOW, approval, pending, policy

LATER = NOW + timedelta(minutes=30)
FIFTEEN = timedelta(minutes=15)
STRICT = ReviewerRequirement(mfa=True, max_auth_age=FIFTEEN)
#: SRE leads approve; they must have signed in with MFA within 15 minutes.
STEP_UP = policy(replace(approval(), reviewers_need=STRICT))


def signed_in(who: Identity, *, amr: set[str], at: Any) -> Identity:
    """`who` with these methods and `auth_time` (epoch seconds, or any claim value)."""
    claims = dict(who.claims)
    if at is None:
        claims.pop("auth_time", None)
    else:
        claims["auth_time"] = at
    return replace(who, amr=frozenset(amr), claims=MappingProxyType(claims))


def epoch(delta: timedelta) -> int:
    """LATER moved by `delta`, as epoch seconds."""
    return int((LATER + delta).timestamp())


#: BOB, signed in with a hardware key five minutes before LATER.
BOB_FRESH = signed_in(BOB, amr={"pwd", "hwk"}, at=epoch(-timedelta(minutes=5)))
#: BOB with a password only, five minutes ago.
BOB_PASSWORD = signed_in(BOB, amr={"pwd"}, at=epoch(-timedelta(minutes=5)))
#: BOB with MFA, but an hour ago.
BOB_STALE = signed_in(BOB, amr={"pwd", "mfa"}, at=epoch(-timedelta(hours=1)))
#: BOB with MFA and no auth_time at all.
BOB_TIMELESS = signed_in(BOB, amr={"pwd", "mfa"}, at=None)


def by(reviewer: Identity, decision: Any = APPROVE, *, on: Policy = STEP_UP) -> Any:
    """`reviewer` reviews ALICE's fresh request under `on` at LATER."""
    return review(
        pending(on), reviewer=reviewer, decision=decision, policy=on, now=LATER, grant_id="g-1"
    )


def refusal(reviewer: Identity, *, on: Policy = STEP_UP) -> StepUpRequiredError:
    """The step-up refusal `reviewer` gets when approving under `on`."""
    with pytest.raises(StepUpRequiredError) as info:
        by(reviewer, on=on)
    return info.value


# -- the rule ------------------------------------------------------------------------------------


def test_a_fresh_mfa_sign_in_approves() -> None:
    """BOB, hardware key five minutes ago, approves under the step-up policy."""
    assert by(BOB_FRESH).request.status is RequestStatus.APPROVED


def test_a_password_only_sign_in_is_refused_with_step_up_required() -> None:
    """BOB with only a password is refused: step-up-required, naming what is needed."""
    error = refusal(BOB_PASSWORD)
    assert error.code is ErrorCode.STEP_UP_REQUIRED
    assert (error.mfa, error.max_age, error.missing) == (True, 900, ("mfa",))


def test_an_old_sign_in_is_refused_even_with_mfa() -> None:
    """BOB's MFA sign-in of an hour ago is older than 15 minutes."""
    assert refusal(BOB_STALE).missing == ("recent-sign-in",)


def test_a_missing_auth_time_is_never_recent() -> None:
    """No auth_time claim: BOB cannot show when he signed in, so he must sign in again."""
    assert refusal(BOB_TIMELESS).missing == ("recent-sign-in",)


def test_both_shortfalls_are_named() -> None:
    """A password sign-in of an hour ago lacks MFA and recency."""
    old_password = signed_in(BOB, amr={"pwd"}, at=epoch(-timedelta(hours=1)))
    assert refusal(old_password).missing == ("mfa", "recent-sign-in")


def test_step_up_is_its_own_category() -> None:
    """step-up-required is neither input, nor forbidden, nor a conflict: sign in and retry."""
    assert ErrorCode.STEP_UP_REQUIRED.category is Category.REAUTHENTICATE
    assert isinstance(refusal(BOB_PASSWORD), ApprovalError)


def test_mfa_alone_ignores_the_age_of_the_sign_in() -> None:
    """`reviewers_need: {mfa: true}`: an MFA sign-in of any age, even without auth_time."""
    on = policy(replace(approval(), reviewers_need=ReviewerRequirement(mfa=True)))
    assert by(BOB_TIMELESS, on=on).request.status is RequestStatus.APPROVED
    error = refusal(BOB_PASSWORD, on=on)
    assert (error.mfa, error.max_age) == (True, None)


def test_age_alone_ignores_the_methods() -> None:
    """`reviewers_need: {max_auth_age: 15m}`: a recent password sign-in approves."""
    need = ReviewerRequirement(max_auth_age=FIFTEEN)
    on = policy(replace(approval(), reviewers_need=need))
    assert by(BOB_PASSWORD, on=on).request.status is RequestStatus.APPROVED
    assert refusal(BOB_STALE, on=on).max_age == 900


def test_without_reviewers_need_nothing_is_asked() -> None:
    """A policy without reviewers_need lets a password sign-in with no auth_time approve."""
    on = policy()
    assert by(signed_in(BOB, amr=set(), at=None), on=on).request.status is RequestStatus.APPROVED


def test_a_stale_approver_may_still_deny() -> None:
    """Denying only closes access: BOB, password only, an hour ago, denies at once."""
    stale = signed_in(BOB, amr={"pwd"}, at=epoch(-timedelta(hours=1)))
    assert by(stale, DENY).request.status is RequestStatus.DENIED


def test_step_up_comes_after_the_who_and_state_checks() -> None:
    """MALLORY, not an approver, hears not-an-approver, never an invitation to sign in again."""
    mallory = signed_in(
        Identity(subject="u-m", email="mallory@partner.example.net"), amr={"pwd"}, at=None
    )
    with pytest.raises(ApprovalError) as info:
        by(mallory)
    assert info.value.code is ErrorCode.NOT_AN_APPROVER


def test_step_up_comes_after_the_input_checks() -> None:
    """A duration above the maximum is refused as such: signing in again would not help."""
    with pytest.raises(ApprovalError) as info:
        review(
            pending(STEP_UP),
            reviewer=BOB_PASSWORD,
            decision=APPROVE,
            policy=STEP_UP,
            now=LATER,
            grant_id="g-1",
            duration=timedelta(days=2),
        )
    assert info.value.code is ErrorCode.DURATION_TOO_LONG


# -- the pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [*sorted(MFA_METHODS), "MFA", "Hwk"])
def test_each_listed_method_counts_as_mfa(method: str) -> None:
    """Every method of the documented set counts, in any letter case."""
    assert has_mfa(replace(BOB, amr=frozenset({"pwd", method})))


@pytest.mark.parametrize("method", ["pwd", "pin", "kba", "user", "wia", "geo", "rba", "tel"])
def test_single_factor_methods_do_not_count_as_mfa(method: str) -> None:
    """A password, a PIN, knowledge questions, Windows sign-in and the like are not MFA."""
    assert not has_mfa(replace(BOB, amr=frozenset({method})))


@pytest.mark.parametrize("value", ["1715000000", True, None, float("nan"), [1], 1e300])
def test_an_unreadable_auth_time_is_not_recent(value: object) -> None:
    """A string, a boolean, NaN, a list or an impossible time never counts as a sign-in time."""
    who = signed_in(BOB, amr={"mfa"}, at=value)
    assert not signed_in_within(who, FIFTEEN, now=LATER)


def test_a_fractional_auth_time_is_read_as_whole_seconds() -> None:
    """Some providers send 1715000000.5; it reads as 1715000000."""
    assert auth_time_of(signed_in(BOB, amr=set(), at=1715000000.5)) == 1715000000


def test_the_age_limit_is_inclusive() -> None:
    """Signed in exactly 15 minutes ago still counts; a second more does not."""
    assert signed_in_within(signed_in(BOB, amr=set(), at=epoch(-FIFTEEN)), FIFTEEN, now=LATER)
    older = epoch(-FIFTEEN - timedelta(seconds=1))
    assert not signed_in_within(signed_in(BOB, amr=set(), at=older), FIFTEEN, now=LATER)


def test_a_sign_in_slightly_in_the_future_is_clock_skew() -> None:
    """auth_time up to a minute ahead of now counts; further ahead is refused."""
    assert signed_in_within(signed_in(BOB, amr=set(), at=epoch(CLOCK_SKEW)), FIFTEEN, now=LATER)
    ahead = epoch(CLOCK_SKEW + timedelta(seconds=1))
    assert not signed_in_within(signed_in(BOB, amr=set(), at=ahead), FIFTEEN, now=LATER)


# -- the audit entry -----------------------------------------------------------------------------


def test_the_review_entry_records_amr_and_auth_time() -> None:
    """BOB's approval is audited with his methods (sorted) and his auth_time."""
    done = by(BOB_FRESH)
    seen = next(e for e in done.events if e.type is EventType.REQUEST_REVIEWED)
    assert seen.data["amr"] == ("hwk", "pwd")
    assert seen.data["auth_time"] == epoch(-timedelta(minutes=5))
    assert seen.to_dict()["data"]["amr"] == ["hwk", "pwd"]


def test_a_denial_entry_records_them_too() -> None:
    """The denial of a stale approver is audited with what his sign-in showed (no auth_time)."""
    done = by(BOB_TIMELESS, DENY)
    seen = next(e for e in done.events if e.type is EventType.REQUEST_REVIEWED)
    assert (seen.data["amr"], seen.data["auth_time"]) == (("mfa", "pwd"), None)


# -- the invariant -------------------------------------------------------------------------------

METHODS = st.frozensets(st.sampled_from(["pwd", "pin", "kba", "mfa", "otp", "hwk", "face", "sms"]))


@given(
    amr=METHODS,
    mfa=st.booleans(),
    max_age=st.one_of(st.none(), st.integers(min_value=60, max_value=86_400)),
    offset=st.one_of(st.none(), st.integers(min_value=-200_000, max_value=200_000)),
)
def test_a_reviewer_passes_iff_the_rule_holds(
    amr: frozenset[str], mfa: bool, max_age: int | None, offset: int | None
) -> None:
    """An approval goes through exactly when (MFA is not asked or amr shows it) and (no age is
    asked or auth_time lies in [now - max_age, now + skew]); otherwise step-up-required."""
    if not mfa and max_age is None:
        mfa = True  # the compiler refuses a requirement that asks for nothing
    need = ReviewerRequirement(
        mfa=mfa, max_auth_age=None if max_age is None else timedelta(seconds=max_age)
    )
    on = policy(replace(approval(), reviewers_need=need))
    auth_time = None if offset is None else int(LATER.timestamp()) + offset
    who = signed_in(BOB, amr=set(amr), at=auth_time)
    mfa_ok = not mfa or bool(amr & {"mfa", "otp", "hwk", "face", "sms"})
    recent_ok = max_age is None or (offset is not None and -max_age <= offset <= 60)
    assert (shortfall(who, need, now=LATER) == ()) == (mfa_ok and recent_ok)
    if mfa_ok and recent_ok:
        assert by(who, on=on).request.status is RequestStatus.APPROVED
    else:
        with pytest.raises(StepUpRequiredError):
            by(who, on=on)
