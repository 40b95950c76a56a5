"""Parsing the values a policy test case or fixture holds (times, identities, signals, grants,
expectations), each recorded as a located error in the compiler's format when it is wrong.

The document walk that uses these is in `policy_test_parser`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from app.core.context import Device, Identity, IPAddress
from app.core.decision import Effect
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.errors import PolicyError, did_you_mean
from app.core.policy.source import Located
from app.core.reasons import Reason
from app.services.sample_requests import GRANT_CHOICES

EXPECT_KEYS = ("decision", "reasons", "application", "policy")
DEVICE_KEYS = ("managed", "tags", "id")

#: An expectation not given (distinct from `application: null`, which expects none).
UNSET: Final = object()


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case expects. Listed reasons must all be present; others may appear too."""

    decision: Effect
    reasons: tuple[Reason, ...] = ()
    application: object = UNSET  # str | None when given
    policy: object = UNSET


class CaseValues:
    """Reads values out of one located test document, recording every problem with its place
    instead of raising, so one pass reports them all."""

    def __init__(self, located: Located, errors: list[PolicyError]) -> None:
        self.doc = located
        self.errors = errors

    def fail(self, path: str, code: PolicyErrorCode, message: str) -> None:
        """Record one problem at a JSON path of this document."""
        self.errors.append(self.doc.error(path, code, message))

    def mapping(self, value: Any, path: str, keys: Sequence[str], what: str) -> dict[str, Any]:
        """The value as a mapping (empty when it is not one), reporting keys outside `keys`."""
        if not isinstance(value, dict):
            self.fail(path, PolicyErrorCode.TEST_WRONG_TYPE, f"{what} must be a mapping")
            return {}
        for key in value:
            if key not in keys:
                self.fail(
                    f"{path}.{key}",
                    PolicyErrorCode.TEST_UNKNOWN_KEY,
                    f"unknown key '{key}' in {what}{did_you_mean(key, keys)}",
                )
        return value

    def string(self, value: Any, path: str, what: str) -> str | None:
        """A non-empty string, stripped, or None after reporting it."""
        if not isinstance(value, str) or not value.strip():
            self.fail(path, PolicyErrorCode.TEST_WRONG_TYPE, f"{what} must be a non-empty string")
            return None
        return value.strip()

    def strings(self, value: Any, path: str, what: str) -> tuple[str, ...]:
        """One string or a list of them (empty after reporting anything else)."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            self.fail(
                path,
                PolicyErrorCode.TEST_WRONG_TYPE,
                f"{what} must be a string or a list of strings",
            )
            return ()
        return tuple(items)

    def instant(self, value: Any, path: str) -> datetime | None:
        """A pinned `now` in UTC; a time without a zone is refused rather than guessed."""
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if moment is None or moment.tzinfo is None:
            self.fail(
                path,
                PolicyErrorCode.TEST_BAD_TIME,
                "now must be an ISO 8601 time with a zone, e.g. '2026-11-24T10:00:00Z'",
            )
            return None
        return moment.astimezone(UTC)

    def identity(self, fixture: dict[str, Any], path: str) -> Identity | None:
        """The signed-in person a fixture describes, normalised as a verified token would be."""
        email = fixture.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            self.fail(
                f"{path}.email", PolicyErrorCode.TEST_WRONG_TYPE, "email must be an email address"
            )
            email = None
        subject = fixture.get("subject", email)
        if not isinstance(subject, str) or not subject:
            self.fail(
                f"{path}.subject",
                PolicyErrorCode.TEST_WRONG_TYPE,
                "subject must be a non-empty string",
            )
            return None
        claims = fixture.get("claims", {})
        if not isinstance(claims, dict):
            self.fail(f"{path}.claims", PolicyErrorCode.TEST_WRONG_TYPE, "claims must be a mapping")
            claims = {}
        groups = self.strings(fixture.get("groups", []), f"{path}.groups", "groups")
        amr = self.strings(fixture.get("amr", []), f"{path}.amr", "amr")
        return Identity(
            subject=subject,
            email=email.strip().lower() if isinstance(email, str) else None,
            groups=frozenset(groups),
            amr=frozenset(a.lower() for a in amr),
            claims=MappingProxyType(dict(claims)),
        )

    def ip(self, value: Any, path: str) -> IPAddress | None:
        """A client address, v4 or v6."""
        try:
            return ipaddress.ip_address(str(value))
        except ValueError:
            self.fail(path, PolicyErrorCode.TEST_BAD_IP, f"'{value}' is not an IP address")
            return None

    def country(self, value: Any, path: str) -> str | None:
        """A two-letter country code, upper-cased."""
        if not isinstance(value, str) or len(value.strip()) != 2 or not value.isalpha():
            self.fail(
                path,
                PolicyErrorCode.TEST_BAD_COUNTRY,
                f"'{value}' is not a two-letter country code",
            )
            return None
        return value.strip().upper()

    def device(self, value: Any, path: str) -> Device:
        """The device posture: managed, tags and an optional inventory id."""
        body = self.mapping(value, path, DEVICE_KEYS, "device")
        managed = body.get("managed", False)
        if not isinstance(managed, bool):
            self.fail(
                f"{path}.managed", PolicyErrorCode.TEST_WRONG_TYPE, "managed must be true or false"
            )
            managed = False
        tags = self.strings(body.get("tags", []), f"{path}.tags", "tags")
        device_id = body.get("id")
        return Device(managed, frozenset(tags), str(device_id) if device_id is not None else None)

    def grant_kind(self, value: Any, path: str) -> str | None:
        """The grant a case assumes, one of GRANT_CHOICES (a YAML boolean reads as its word)."""
        text = ("true" if value else "false") if isinstance(value, bool) else value
        if text not in GRANT_CHOICES:
            self.fail(
                path,
                PolicyErrorCode.TEST_BAD_VALUE,
                f"grant must be one of {', '.join(GRANT_CHOICES)}",
            )
            return None
        return str(text)

    def expectation(self, raw: Any, path: str) -> Expectation | None:
        """The `expect` block: a decision, reason codes that must appear, and optionally the
        application and policy that must decide."""
        body = self.mapping(raw, path, EXPECT_KEYS, "expect")
        if not isinstance(raw, dict):
            return None
        effects = [e.value for e in Effect]
        decision = body.get("decision")
        if decision not in effects:
            self.fail(
                f"{path}.decision",
                PolicyErrorCode.TEST_BAD_DECISION,
                f"decision must be one of {', '.join(effects)}"
                f"{did_you_mean(str(decision), effects)}",
            )
            return None
        reasons: list[Reason] = []
        for i, code in enumerate(
            self.strings(body.get("reasons", []), f"{path}.reasons", "reasons")
        ):
            try:
                reasons.append(Reason(code))
            except ValueError:
                self.fail(
                    f"{path}.reasons[{i}]",
                    PolicyErrorCode.TEST_UNKNOWN_REASON,
                    f"unknown reason code '{code}'{did_you_mean(code, [r.value for r in Reason])}",
                )
        for key in ("application", "policy"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                self.fail(
                    f"{path}.{key}",
                    PolicyErrorCode.TEST_WRONG_TYPE,
                    f"{key} must be a string or null",
                )
        return Expectation(
            Effect(decision),
            tuple(reasons),
            body.get("application", UNSET),
            body.get("policy", UNSET),
        )
