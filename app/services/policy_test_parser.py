"""Parsing policy test files into suites of cases, with located errors like the compiler's.

The format is described in `policy_tests`. Parsing is pure: the text arrives as a `Source`.
This module walks the document (file, fixtures, cases); the values inside a case or fixture
are read by `policy_test_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.context import (
    UNKNOWN_DEVICE,
    AccessContext,
    Device,
    Identity,
    IPAddress,
    build_access_context,
)
from app.core.decision import GrantState
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile import Source
from app.core.policy.errors import PolicyError, did_you_mean
from app.core.policy.source import Located, load_located
from app.services.policy_test_values import CaseValues, Expectation
from app.services.sample_requests import TargetError, grant_state, parse_url

FILE_KEYS = ("name", "now", "fixtures", "cases")
FIXTURE_KEYS = ("email", "subject", "groups", "amr", "claims", "device", "country", "ip")
SIGNAL_KEYS = ("device", "country", "ip")
CASE_KEYS = ("name", "url", "method", "as", "grant", "pending", "now", "expect", *SIGNAL_KEYS)


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
    """The request signals a fixture sets and a case may override."""

    ip: IPAddress | None = None
    country: str | None = None
    device: Device = UNKNOWN_DEVICE


@dataclass(frozen=True, slots=True)
class _Fixture:
    """A named caller: who they are and the signals their requests carry."""

    identity: Identity | None
    signals: _Signals


class _SuiteParser(CaseValues):
    """Walks one located test document, recording every problem with its place."""

    def __init__(self, located: Located, errors: list[PolicyError]) -> None:
        super().__init__(located, errors)
        #: Fixtures with errors of their own: cases using them are skipped, not reported again.
        self.broken: set[str] = set()

    # -- the document ---------------------------------------------------------------------
    def suite(self) -> PolicySuite | None:
        """The whole file: name, pinned `now`, fixtures and cases (names used once)."""
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
        """The usable fixtures by name; a fixture with errors is reported once and marked
        broken, so the cases that use it add nothing more."""
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
        """One case as the request it describes, or None once any of its problems is recorded."""
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
        """The case's (scheme, host, path, method), parsed as the proxies' URLs are."""
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
