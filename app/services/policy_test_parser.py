"""Parsing policy test files into suites of cases, with located errors like the compiler's.

The format is described in `policy_tests`. Parsing is pure: the text arrives as a `Source`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from app.core.context import (
    UNKNOWN_DEVICE,
    AccessContext,
    Device,
    Identity,
    IPAddress,
    build_access_context,
)
from app.core.decision import Effect, GrantState
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile import Source
from app.core.policy.errors import PolicyError, did_you_mean
from app.core.policy.source import Located, load_located
from app.core.reasons import Reason
from app.services.sample_requests import GRANT_CHOICES, TargetError, grant_state, parse_url

FILE_KEYS = ("name", "now", "fixtures", "cases")
FIXTURE_KEYS = ("email", "subject", "groups", "amr", "claims", "device", "country", "ip")
SIGNAL_KEYS = ("device", "country", "ip")
CASE_KEYS = ("name", "url", "method", "as", "grant", "pending", "now", "expect", *SIGNAL_KEYS)
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


@dataclass(frozen=True, slots=True)
class PolicyCase:
    """One named request and its expected decision."""

    name: str
    context: AccessContext
    grants: GrantState | None
    now: datetime
    expect: Expectation


@dataclass(frozen=True, slots=True)
class PolicySuite:
    """One test file."""

    file: str
    name: str
    cases: tuple[PolicyCase, ...]


def parse_suite(source: Source) -> tuple[PolicySuite | None, list[PolicyError]]:
    """One test file, or None and every located error in it."""
    located, errors = load_located(source.file, source.text)
    if located is None:
        return None, errors
    parser = _SuiteParser(located, errors)
    suite = parser.suite()
    return (suite if not errors else None), errors


@dataclass(frozen=True, slots=True)
class _Signals:
    ip: IPAddress | None = None
    country: str | None = None
    device: Device = UNKNOWN_DEVICE


@dataclass(frozen=True, slots=True)
class _Fixture:
    identity: Identity | None
    signals: _Signals


class _SuiteParser:
    """Walks one located test document, recording every problem with its place."""

    def __init__(self, located: Located, errors: list[PolicyError]) -> None:
        self.doc = located
        self.errors = errors
        self.broken: set[str] = set()

    def fail(self, path: str, code: PolicyErrorCode, message: str) -> None:
        self.errors.append(self.doc.error(path, code, message))

    def mapping(self, value: Any, path: str, keys: Sequence[str], what: str) -> dict[str, Any]:
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
        if not isinstance(value, str) or not value.strip():
            self.fail(path, PolicyErrorCode.TEST_WRONG_TYPE, f"{what} must be a non-empty string")
            return None
        return value.strip()

    def strings(self, value: Any, path: str, what: str) -> tuple[str, ...]:
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

    # -- the document ---------------------------------------------------------------------
    def suite(self) -> PolicySuite | None:
        root = self.mapping(self.doc.value, "$", FILE_KEYS, "a policy test file")
        if not isinstance(self.doc.value, dict):
            return None
        for key in ("now", "cases"):
            if key not in root:
                self.fail(
                    "$", PolicyErrorCode.TEST_MISSING_KEY, f"a policy test file needs '{key}'"
                )
        name = self.doc.file
        if "name" in root:
            name = self.string(root["name"], "$.name", "the test name") or name
        now = self.instant(root["now"], "$.now") if "now" in root else None
        fixtures = self.fixtures(root["fixtures"]) if "fixtures" in root else {}
        raw_cases = root.get("cases")
        if "cases" in root and (not isinstance(raw_cases, list) or not raw_cases):
            self.fail("$.cases", PolicyErrorCode.TEST_WRONG_TYPE, "cases must be a non-empty list")
            raw_cases = []
        cases: list[PolicyCase] = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_cases or []):
            case = self.case(raw, f"$.cases[{i}]", fixtures, now)
            if case is None:
                continue
            if case.name in seen:
                self.fail(
                    f"$.cases[{i}].name",
                    PolicyErrorCode.TEST_DUPLICATE_CASE,
                    f"case name '{case.name}' is used twice",
                )
            seen.add(case.name)
            cases.append(case)
        return PolicySuite(self.doc.file, name, tuple(cases))

    def fixtures(self, raw: Any) -> dict[str, _Fixture]:
        if not isinstance(raw, dict):
            self.fail(
                "$.fixtures", PolicyErrorCode.TEST_WRONG_TYPE, "fixtures must be a mapping of names"
            )
            return {}
        out: dict[str, _Fixture] = {}
        for name, value in raw.items():
            path = f"$.fixtures.{name}"
            body = self.mapping(value, path, FIXTURE_KEYS, f"fixture '{name}'")
            if not isinstance(value, dict):
                self.broken.add(str(name))
                continue
            if "email" not in body and "subject" not in body:
                self.fail(
                    path,
                    PolicyErrorCode.TEST_MISSING_KEY,
                    f"fixture '{name}' needs 'email' or 'subject' (omit 'as' for anonymous)",
                )
                self.broken.add(str(name))
                continue
            before = len(self.errors)
            identity = self.identity(body, path)
            signals = self.signals(body, path, _Signals())
            if identity is not None and len(self.errors) == before:
                out[name] = _Fixture(identity, signals)
            else:
                self.broken.add(str(name))
        return out

    def case(
        self, raw: Any, path: str, fixtures: Mapping[str, _Fixture], now: datetime | None
    ) -> PolicyCase | None:
        body = self.mapping(raw, path, CASE_KEYS, "a case")
        if not isinstance(raw, dict):
            return None
        before = len(self.errors)
        for key in ("name", "url", "expect"):
            if key not in body:
                self.fail(path, PolicyErrorCode.TEST_MISSING_KEY, f"a case needs '{key}'")
        name = (
            self.string(body["name"], f"{path}.name", "the case name") if "name" in body else None
        )
        if "now" in body:
            now = self.instant(body["now"], f"{path}.now")
        target = self.target(body, path)
        fixture = _Fixture(None, _Signals())
        if "as" in body:
            who = body["as"]
            if isinstance(who, str) and who in self.broken:
                return None  # the fixture's own errors are already reported
            if not isinstance(who, str) or who not in fixtures:
                self.fail(
                    f"{path}.as",
                    PolicyErrorCode.TEST_UNKNOWN_FIXTURE,
                    f"no fixture named '{who}'{did_you_mean(str(who), fixtures)}",
                )
            else:
                fixture = fixtures[who]
        signals = self.signals(body, path, fixture.signals)
        grant = self.grant_kind(body.get("grant", False), f"{path}.grant")
        pending = body.get("pending", False)
        if not isinstance(pending, bool):
            self.fail(
                f"{path}.pending", PolicyErrorCode.TEST_WRONG_TYPE, "pending must be true or false"
            )
        expect = self.expectation(body["expect"], f"{path}.expect") if "expect" in body else None
        if (
            len(self.errors) > before
            or name is None
            or now is None
            or target is None
            or expect is None
            or grant is None
        ):
            return None
        scheme, host, url_path, method = target
        context = build_access_context(
            host=host,
            path=url_path,
            method=method,
            scheme=scheme,
            identity=fixture.identity,
            signals=(signals.ip, signals.country, signals.device),
        )
        states = grant_state(grant, pending=pending is True, now=now)
        return PolicyCase(name, context, states, now, expect)

    def signals(self, body: dict[str, Any], path: str, base: _Signals) -> _Signals:
        """The fixture's (or the case's overriding) ip, country and device."""
        ip, country, device = base.ip, base.country, base.device
        if "ip" in body:
            ip = self.ip(body["ip"], f"{path}.ip")
        if "country" in body:
            country = self.country(body["country"], f"{path}.country")
        if "device" in body:
            device = self.device(body["device"], f"{path}.device")
        return _Signals(ip, country, device)

    def target(self, body: dict[str, Any], path: str) -> tuple[str, str, str, str] | None:
        if "url" not in body:
            return None
        url = self.string(body["url"], f"{path}.url", "the url")
        method = body.get("method", "GET")
        if not isinstance(method, str) or not method.isalpha():
            self.fail(
                f"{path}.method",
                PolicyErrorCode.TEST_WRONG_TYPE,
                "method must be a word such as GET",
            )
            return None
        if url is None:
            return None
        try:
            scheme, host, url_path = parse_url(url)
        except TargetError as exc:
            self.fail(f"{path}.url", PolicyErrorCode.TEST_BAD_URL, str(exc))
            return None
        return scheme, host, url_path, method.upper()

    def identity(self, fixture: dict[str, Any], path: str) -> Identity | None:
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
        try:
            return ipaddress.ip_address(str(value))
        except ValueError:
            self.fail(path, PolicyErrorCode.TEST_BAD_IP, f"'{value}' is not an IP address")
            return None

    def country(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or len(value.strip()) != 2 or not value.isalpha():
            self.fail(
                path,
                PolicyErrorCode.TEST_BAD_COUNTRY,
                f"'{value}' is not a two-letter country code",
            )
            return None
        return value.strip().upper()

    def device(self, value: Any, path: str) -> Device:
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
