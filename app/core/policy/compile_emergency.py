"""Compiling escalation (`approval.escalate_after` / `escalate_to`) and `break_glass`.

Both name people in the approver forms (`{group: NAME}`, `{email: ADDRESS}`), so they share
the approver list parser. Escalation is part of the approval requirement (it changes who may
approve) and so of the fingerprint; break-glass is not (it is a separate way in, and its grants
still count only while the approval requirement is unchanged).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from app.core.durations import in_words
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_approval import _approvers as compile_approvers
from app.core.policy.compile_checks import Checker
from app.core.policy.emergency import BreakGlass, Escalation
from app.core.policy.model import Approval, Approver

#: The `approval` keys this module reads (compile_approval lists them with the others).
ESCALATION_KEYS = ("escalate_after", "escalate_to")
BREAK_GLASS_KEYS = ("who", "max_duration", "review_within")
DEFAULT_BREAK_GLASS_DURATION = timedelta(hours=1)
DEFAULT_REVIEW_WITHIN = timedelta(hours=24)
#: Escalating after less than a minute is no delay; a break-glass session longer than a day is
#: no emergency; a review due after a month is no review.
MIN_ESCALATE_AFTER = timedelta(minutes=1)
MAX_BREAK_GLASS_DURATION = timedelta(hours=24)
MIN_REVIEW_WITHIN = timedelta(minutes=5)
MAX_REVIEW_WITHIN = timedelta(days=30)


def compile_escalation(
    check: Checker, body: dict[str, Any], path: str, *, pending_ttl: timedelta | None
) -> Escalation | None:
    """`escalate_after` and `escalate_to`, both or neither; None when absent or refused.

    A delay no shorter than `pending_ttl` could never fire (the request expires first): that
    is refused rather than silently ignored."""
    given = [key for key in ESCALATION_KEYS if key in body]
    if not given:
        return None
    if len(given) == 1:
        missing = next(k for k in ESCALATION_KEYS if k not in body)
        check.fail(
            f"{path}.{given[0]}",
            PolicyErrorCode.POLICY_ESCALATION_INCOMPLETE,
            f"{given[0]} needs {missing} as well",
        )
        return None
    where = f"{path}.escalate_after"
    after = check.duration(body["escalate_after"], where, MIN_ESCALATE_AFTER)
    to = compile_approvers(check, body["escalate_to"], f"{path}.escalate_to")
    if after is None or not to:
        return None
    if after < MIN_ESCALATE_AFTER:
        check.fail(where, PolicyErrorCode.POLICY_BAD_DURATION, "escalate_after must be 1m or more")
        return None
    if pending_ttl is not None and after >= pending_ttl:
        check.fail(
            where,
            PolicyErrorCode.POLICY_ESCALATION_NEVER_DUE,
            f"escalate_after ({in_words(after)}) must be shorter than pending_ttl "
            f"({in_words(pending_ttl)}), or requests expire before they escalate",
        )
        return None
    return Escalation(after=after, to=tuple(_plain(a) for a in to))


def _plain(approver: Approver) -> Approver:
    # A per-group count means nothing for fallback approvers: they add people, not quorum.
    return Approver(approver.kind, approver.value) if approver.required else approver


def compile_break_glass(
    check: Checker, raw: Any, path: str, *, approval: Approval | None, has_approval: bool
) -> BreakGlass | None:
    """The `break_glass` block. It needs an `approval` block: its approvers are the people who
    review each use after the fact."""
    body = check.mapping(raw, path, BREAK_GLASS_KEYS, "break_glass")
    if not isinstance(raw, dict):
        return None
    if not has_approval:
        check.fail(
            path,
            PolicyErrorCode.POLICY_BREAK_GLASS_WITHOUT_APPROVAL,
            "break_glass needs an approval block: its approvers review each use",
        )
    who = compile_approvers(check, check.required(body, "who", path, "break_glass"), f"{path}.who")
    maximum = _bounded(
        check,
        body.get("max_duration"),
        f"{path}.max_duration",
        DEFAULT_BREAK_GLASS_DURATION,
        (timedelta(minutes=1), MAX_BREAK_GLASS_DURATION),
    )
    review_within = _bounded(
        check,
        body.get("review_within"),
        f"{path}.review_within",
        DEFAULT_REVIEW_WITHIN,
        (MIN_REVIEW_WITHIN, MAX_REVIEW_WITHIN),
    )
    if not who or maximum is None or review_within is None or approval is None:
        return None
    return BreakGlass(
        who=tuple(_plain(a) for a in who), max_duration=maximum, review_within=review_within
    )


def _bounded(
    check: Checker,
    raw: Any,
    where: str,
    default: timedelta,
    bounds: tuple[timedelta, timedelta],
) -> timedelta | None:
    """A duration within `bounds` (inclusive), or None after reporting it."""
    value = check.duration(raw, where, default)
    if value is None:
        return None
    low, high = bounds
    if not low <= value <= high:
        name = where.rsplit(".", 1)[-1]
        check.fail(
            where,
            PolicyErrorCode.POLICY_BAD_DURATION,
            f"{name} must be from {in_words(low)} to {in_words(high)}",
        )
        return None
    return value


def add_escalation(
    check: Checker, raw: Any, approval: Approval | None, path: str
) -> Approval | None:
    """`approval` with the escalation its raw block (`raw`, at `path`) asks for; the escalation
    keys are checked even when the rest of the block was refused, so every error is reported."""
    if not isinstance(raw, dict):
        return approval
    ttl = approval.pending_ttl if approval is not None else None
    escalation = compile_escalation(check, raw, path, pending_ttl=ttl)
    if approval is None or escalation is None:
        return approval
    return replace(approval, escalation=escalation)
