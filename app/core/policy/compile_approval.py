"""Compiling an allow policy's second-opinion blocks: `justification` and `approval`.

Holds the keys each block accepts (the schema lists the same tuples) and the defaults an
operator gets by leaving a key out.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_checks import Checker
from app.core.policy.compile_window import compile_starts_within
from app.core.policy.model import Approval, Approver, Justification, ReviewerRequirement

JUSTIFICATION_KEYS = (
    "required",
    "prompt",
    "min_length",
    "max_length",
    "pattern",
    "session_duration",
)
APPROVAL_KEYS = (
    "approvers",
    "approvals_required",
    "default_duration",
    "max_duration",
    "pending_ttl",
    "reviewers_need",
    "starts_within",
    "escalate_after",
    "escalate_to",
)
REVIEWERS_NEED_KEYS = ("mfa", "max_auth_age")
APPROVER_KEYS = ("group", "email", "required")

DEFAULT_PROMPT = "Why do you need access?"
DEFAULT_MIN_LENGTH = 10
DEFAULT_MAX_LENGTH = 2000
HARD_MAX_LENGTH = 10_000
DEFAULT_SESSION = timedelta(hours=8)
DEFAULT_GRANT = timedelta(hours=1)
DEFAULT_PENDING_TTL = timedelta(hours=24)
#: `reviewers_need.max_auth_age` bounds: under a minute no sign-in survives the walk from the
#: identity provider to the approve button; over a day it no longer means "recently".
MIN_AUTH_AGE = timedelta(minutes=1)
MAX_AUTH_AGE = timedelta(hours=24)


def compile_justification(check: Checker, raw: Any, path: str) -> Justification | None:
    """The `justification` block, with defaults for what it leaves out."""
    body = check.mapping(raw, path, JUSTIFICATION_KEYS, "justification")
    if not isinstance(raw, dict):  # `{}` means "required, with the defaults"
        return None
    if body.get("required", True) is not True:
        check.fail(
            f"{path}.required",
            PolicyErrorCode.POLICY_BAD_VALUE,
            "required must be true; remove the justification block to turn it off",
        )
    prompt = DEFAULT_PROMPT
    if "prompt" in body:
        prompt = check.string(body["prompt"], f"{path}.prompt", "the prompt") or DEFAULT_PROMPT
    min_length = check.integer(
        body.get("min_length", DEFAULT_MIN_LENGTH),
        f"{path}.min_length",
        "min_length",
        low=1,
        high=1000,
    )
    max_length = check.integer(
        body.get("max_length", DEFAULT_MAX_LENGTH),
        f"{path}.max_length",
        "max_length",
        low=1,
        high=HARD_MAX_LENGTH,
    )
    if min_length and max_length and min_length > max_length:
        check.fail(
            f"{path}.min_length",
            PolicyErrorCode.POLICY_BAD_VALUE,
            "min_length is above max_length",
        )
    pattern = None
    if "pattern" in body:
        text = check.string(body["pattern"], f"{path}.pattern", "the pattern")
        if text is not None:
            try:
                pattern = re.compile(text)
            except re.error as exc:
                check.fail(
                    f"{path}.pattern",
                    PolicyErrorCode.POLICY_BAD_PATTERN,
                    f"invalid regular expression: {exc}",
                )
    session = check.duration(
        body.get("session_duration"), f"{path}.session_duration", DEFAULT_SESSION
    )
    if session is None or min_length is None or max_length is None:
        return None
    return Justification(prompt, min_length, max_length, pattern, session)


def compile_approval(check: Checker, raw: Any, path: str) -> Approval | None:
    """The `approval` block: approvers, quorum, durations and what a reviewer must show."""
    body = check.mapping(raw, path, APPROVAL_KEYS, "approval")
    if not isinstance(raw, dict):  # `{}` goes on, to be refused for lacking approvers
        return None
    approvers = _approvers(
        check, check.required(body, "approvers", path, "approval"), f"{path}.approvers"
    )
    needed = check.integer(
        body.get("approvals_required", 1),
        f"{path}.approvals_required",
        "approvals_required",
        low=1,
        high=100,
    )
    default = check.duration(
        body.get("default_duration"), f"{path}.default_duration", DEFAULT_GRANT
    )
    maximum = check.duration(
        body.get("max_duration"),
        f"{path}.max_duration",
        default if default is not None else DEFAULT_GRANT,
    )
    pending_ttl = check.duration(
        body.get("pending_ttl"), f"{path}.pending_ttl", DEFAULT_PENDING_TTL
    )
    if default is not None and maximum is not None and default > maximum:
        check.fail(
            f"{path}.default_duration",
            PolicyErrorCode.POLICY_DURATION_ORDER,
            "default_duration is longer than max_duration",
        )
    if needed is not None and approvers:
        _check_quorum(check, approvers, needed, path)
    reviewers_need = None
    if "reviewers_need" in body:
        reviewers_need = _reviewers_need(check, body["reviewers_need"], f"{path}.reviewers_need")
    if not approvers or needed is None or default is None or maximum is None or pending_ttl is None:
        return None
    starts_within = compile_starts_within(check, body, path)
    return Approval(
        approvers,
        needed,
        default,
        maximum,
        pending_ttl,
        reviewers_need,
        starts_within=starts_within,
    )


def _check_quorum(check: Checker, approvers: tuple[Approver, ...], needed: int, path: str) -> None:
    """Refuse a quorum nobody could ever reach: more approvals than listed people, or per-group
    counts that add up to more than the total."""
    has_group = any(a.kind == "group" for a in approvers)
    emails = len({a.value for a in approvers if a.kind == "email"})
    if not has_group and needed > emails:
        check.fail(
            f"{path}.approvals_required",
            PolicyErrorCode.POLICY_APPROVALS_EXCEED_APPROVERS,
            f"approvals_required is {needed} but only {emails} approver(s) can approve",
        )
    per_group = sum(a.required for a in approvers)
    if per_group > needed:
        check.fail(
            f"{path}.approvals_required",
            PolicyErrorCode.POLICY_APPROVALS_EXCEED_APPROVERS,
            f"the approver groups require {per_group} approvals in all, more than "
            f"approvals_required ({needed})",
        )


def _reviewers_need(check: Checker, raw: Any, path: str) -> ReviewerRequirement | None:
    """The step-up a reviewer must show (MFA, a recent sign-in); never an empty requirement."""
    body = check.mapping(raw, path, REVIEWERS_NEED_KEYS, "reviewers_need")
    if not isinstance(raw, dict):
        return None
    mfa = body.get("mfa", False)
    if not isinstance(mfa, bool):
        check.fail(f"{path}.mfa", PolicyErrorCode.POLICY_WRONG_TYPE, "mfa must be true or false")
        return None
    age: timedelta | None = None
    if "max_auth_age" in body:
        raw_age = check.required(body, "max_auth_age", path, "reviewers_need")
        if raw_age is None:
            return None
        age = check.duration(raw_age, f"{path}.max_auth_age", MAX_AUTH_AGE)
        if age is None:
            return None
        if not MIN_AUTH_AGE <= age <= MAX_AUTH_AGE:
            check.fail(
                f"{path}.max_auth_age",
                PolicyErrorCode.POLICY_BAD_DURATION,
                "max_auth_age must be from 1m to 24h",
            )
            return None
    if not mfa and age is None and all(key in REVIEWERS_NEED_KEYS for key in body):
        # An empty requirement would read as a step-up while asking for nothing (a
        # misspelt key is reported as such, not twice).
        check.fail(
            path,
            PolicyErrorCode.POLICY_BAD_VALUE,
            "reviewers_need asks for nothing; set mfa: true and/or max_auth_age, or remove it",
        )
        return None
    return ReviewerRequirement(mfa=mfa, max_auth_age=age)


def _approvers(check: Checker, raw: Any, path: str) -> tuple[Approver, ...]:
    """The approver list: each `{group: NAME}` (optionally with its own count) or
    `{email: ADDRESS}`; an unusable entry is reported and left out."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        check.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, "approvers must be a non-empty list")
        return ()
    out: list[Approver] = []
    for i, item in enumerate(raw):
        at = f"{path}[{i}]"
        body = check.mapping(item, at, APPROVER_KEYS, "an approver")
        kinds = [k for k in ("group", "email") if k in body]
        if len(kinds) != 1:
            if isinstance(item, dict):  # a non-mapping was reported by mapping()
                check.fail(
                    at,
                    PolicyErrorCode.POLICY_SELECTOR_SHAPE,
                    "an approver is {group: NAME} or {email: ADDRESS}",
                )
            continue
        kind = kinds[0]
        value = check.string(body[kind], f"{at}.{kind}", f"the approver {kind}")
        required = 0
        if "required" in body:
            if kind != "group":
                check.fail(
                    f"{at}.required",
                    PolicyErrorCode.POLICY_BAD_VALUE,
                    "only a group approver takes 'required'",
                )
            required = (
                check.integer(body["required"], f"{at}.required", "required", low=1, high=100) or 0
            )
        if value is not None:
            if kind == "email":
                value = value.lower()
                if "@" not in value:
                    check.fail(
                        f"{at}.email",
                        PolicyErrorCode.POLICY_BAD_EMAIL,
                        f"'{value}' is not an email address",
                    )
            out.append(Approver(kind, value, required))
    return tuple(out)
