"""Asking for a second opinion: submit checks the policy, the reason and the duration asked for,
and one open request per (user, application) is reused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone
from ipaddress import ip_address

import pytest

from app.core.approvals import (
    ApprovalError,
    ErrorCode,
    EventType,
    Requester,
    RequestStatus,
    RequestTransition,
    cancel,
    reuse_open,
    submit,
)
from app.core.context import AccessContext, Device
from tests.core.approvals.people import (
    ALICE,
    ALICE_AT_DESK,
    GOOD_REASON,
    HOUR,
    NOW,
    SRE_LEADS,
    TICKET,
    approval,
    pending,
    policy,
    refused,
)


def ask(justification: str | None = GOOD_REASON, **changes: object) -> RequestTransition:
    """Submit ALICE's request under SRE_LEADS, with keyword overrides."""
    arguments: dict[str, object] = {
        "request_id": "r-1",
        "application": "db-console",
        "policy": SRE_LEADS,
        "requester": ALICE_AT_DESK,
        "justification": justification,
        "requested_duration": None,
        "now": NOW,
    }
    arguments.update(changes)
    return submit(**arguments)  # type: ignore[arg-type]


def test_submit_opens_a_pending_request_at_version_one() -> None:
    """A new request is PENDING, version 1, with no reviews and no grant."""
    request = pending()
    assert (request.status, request.version, request.reviews, request.grant_id) == (
        RequestStatus.PENDING,
        1,
        (),
        None,
    )


def test_pending_request_expires_after_pending_ttl() -> None:
    """expires_at is created_at plus the policy's pending_ttl."""
    request = pending(policy(approval(pending_ttl=2 * HOUR)))
    assert (request.created_at, request.expires_at) == (NOW, NOW + 2 * HOUR)


def test_request_records_who_from_where_and_why() -> None:
    """The requester snapshot, justification and the prompt shown are kept on the request."""
    request = pending()
    assert request.requester == ALICE_AT_DESK
    assert (request.justification, request.prompt) == (GOOD_REASON, TICKET.prompt)
    assert (request.application, request.policy) == ("db-console", SRE_LEADS.name)


def test_submit_emits_request_submitted_then_justification_recorded() -> None:
    """Two events: the request with its signals, then the reason with its prompt."""
    done = ask()
    assert [e.type for e in done.events] == [
        EventType.REQUEST_SUBMITTED,
        EventType.JUSTIFICATION_RECORDED,
    ]
    submitted, recorded = done.events
    assert submitted.data["client_ip"] == "192.0.2.10"
    assert submitted.data["device_tags"] == ("disk-encrypted",)
    assert submitted.data["expires_at"] == "2024-05-07T10:00:00Z"
    assert (recorded.data["justification"], recorded.data["prompt"]) == (
        GOOD_REASON,
        TICKET.prompt,
    )
    assert {(e.request_id, e.actor, e.user) for e in done.events} == {
        ("r-1", "alice@example.com", "alice@example.com")
    }


def test_without_a_reason_only_request_submitted_is_emitted() -> None:
    """A policy that asks for no justification gets one event, and no prompt is stored."""
    done = ask(None, policy=policy(justification=None))
    assert [e.type for e in done.events] == [EventType.REQUEST_SUBMITTED]
    assert (done.request.justification, done.request.prompt) == (None, None)


def test_unasked_reason_is_recorded_anyway() -> None:
    """A reason given where the policy asks for none is still part of the record."""
    done = ask("just checking", policy=policy(justification=None))
    assert done.request.justification == "just checking"
    assert done.events[-1].type is EventType.JUSTIFICATION_RECORDED


def test_unasked_reason_is_still_bounded() -> None:
    """An unasked reason may not be huge or hold control characters."""
    with refused(ErrorCode.JUSTIFICATION_TOO_LONG):
        ask("x" * 5000, policy=policy(justification=None))
    with refused(ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS):
        ask("ok\x1b[31m", policy=policy(justification=None))


def test_policy_without_approval_takes_no_request() -> None:
    """Asking under a policy with no approval block is refused."""
    plain = replace(SRE_LEADS, approval=None)
    with refused(ErrorCode.POLICY_NEEDS_NO_APPROVAL):
        ask(policy=plain)


@pytest.mark.parametrize("text", [None, "", "   \n\t"])
def test_missing_justification_is_refused(text: str | None) -> None:
    """No reason, or only white space, where one is required."""
    with refused(ErrorCode.JUSTIFICATION_REQUIRED):
        ask(text)


def test_short_justification_is_refused() -> None:
    """Fewer than min_length characters (after stripping) is too short."""
    with refused(ErrorCode.JUSTIFICATION_TOO_SHORT):
        ask("INC-1  ")


def test_justification_not_matching_the_pattern_is_refused() -> None:
    """A reason without a ticket number does not match the policy's pattern."""
    with refused(ErrorCode.JUSTIFICATION_PATTERN_MISMATCH):
        ask("because I need to look at prod")


def test_megabyte_justification_is_too_long() -> None:
    """One megabyte of text is refused as too long, without being scanned."""
    with refused(ErrorCode.JUSTIFICATION_TOO_LONG):
        ask("INC-1 " + "a" * 1_000_000)


def test_justification_just_over_max_length_is_too_long() -> None:
    """One character over the policy's max_length is too long."""
    with refused(ErrorCode.JUSTIFICATION_TOO_LONG):
        ask("INC-1 " + "a" * (TICKET.max_length - 5))


@pytest.mark.parametrize("bad", ["\x00", "\x1b[2J", "\x7f", "\r", "\u0085"])
def test_justification_with_control_characters_is_refused(bad: str) -> None:
    """NUL, escape sequences, DEL, a lone CR and C1 controls are refused."""
    with refused(ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS):
        ask(f"INC-4711 {bad} failover")


def test_justification_keeps_newlines_and_normalises_crlf() -> None:
    """Text from a browser's textarea (CRLF) is accepted and stored with LF, stripped."""
    done = ask("  INC-4711\r\nfailover\tdrill  ")
    assert done.request.justification == "INC-4711\nfailover\tdrill"


def test_requested_duration_over_max_is_refused() -> None:
    """Asking for more than max_duration is refused."""
    with refused(ErrorCode.DURATION_TOO_LONG):
        ask(requested_duration=8 * HOUR + timedelta(seconds=1))


def test_too_long_says_the_limit_in_words() -> None:
    """ "at most 8 hours", not a count of seconds."""
    with pytest.raises(ApprovalError) as info:
        ask(requested_duration=9 * HOUR)
    assert info.value.detail == "at most 8 hours"


def test_requested_duration_of_exactly_max_is_accepted() -> None:
    """max_duration itself is allowed."""
    assert ask(requested_duration=8 * HOUR).request.requested_duration == 8 * HOUR


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(minutes=-5)])
def test_requested_duration_must_be_positive(bad: timedelta) -> None:
    """Zero or negative durations are refused."""
    with refused(ErrorCode.DURATION_NOT_POSITIVE):
        ask(requested_duration=bad)


def test_requested_duration_must_be_whole_seconds() -> None:
    """Durations are stored as whole seconds; a fraction is refused, not rounded."""
    with refused(ErrorCode.DURATION_NOT_WHOLE_SECONDS):
        ask(requested_duration=timedelta(seconds=90.5))


def test_naive_now_is_refused() -> None:
    """A clock value without a time zone is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        ask(now=NOW.replace(tzinfo=None))


def test_now_in_another_zone_is_stored_in_utc() -> None:
    """An aware `now` in another zone is the same instant, stored as UTC."""
    paris = timezone(timedelta(hours=2))
    request = ask(now=NOW.astimezone(paris)).request
    assert request.created_at == NOW
    assert request.created_at.utcoffset() == timedelta(0)


def test_empty_request_id_is_refused() -> None:
    """Identifiers come from the store; an empty one is a programming error."""
    with pytest.raises(ValueError, match="request_id"):
        ask(request_id="")


def test_reuse_open_returns_the_pending_request() -> None:
    """Asking again while a request is open gives the open one back."""
    request = pending()
    assert reuse_open(request, NOW + HOUR) is request


def test_reuse_open_ignores_a_request_at_its_expiry() -> None:
    """At exactly expires_at the open request is no longer reused."""
    request = pending()
    assert reuse_open(request, request.expires_at) is None


def test_reuse_open_ignores_a_resolved_request() -> None:
    """A cancelled request is not reused; a new one may be opened."""
    gone = cancel(pending(), by=ALICE, now=NOW).request
    assert reuse_open(gone, NOW) is None


def test_reuse_open_with_nothing_open() -> None:
    """No existing request: nothing to reuse."""
    assert reuse_open(None, NOW) is None


def test_requester_snapshot_from_an_access_attempt() -> None:
    """The requester is taken from the signed-in identity and the attempt's signals."""
    device = Device(managed=False, device_id="byod-1")
    context = AccessContext(
        host="db.example.com",
        path="/",
        identity=ALICE,
        client_ip=ip_address("2001:db8::7"),
        country="DE",
        device=device,
        user_agent="curl/8.5" + "!" * 2000,
    )
    requester = Requester.from_context(context)
    assert (requester.user, requester.email, requester.groups) == (
        "alice@example.com",
        "alice@example.com",
        frozenset({"engineers"}),
    )
    assert (requester.client_ip, requester.country, requester.device) == (
        "2001:db8::7",
        "DE",
        device,
    )
    assert len(requester.user_agent) == 512


def test_anonymous_attempt_cannot_ask() -> None:
    """Only a signed-in user can be a requester."""
    with pytest.raises(ValueError, match="signed-in"):
        Requester.from_context(AccessContext(host="db.example.com", path="/"))
