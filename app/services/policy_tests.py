"""Operator-written policy tests: named fixtures, a pinned `now`, expected decisions.

A test file (`policy_rules/tests/*.yaml`) looks like::

    name: Grafana story
    now: "2026-11-24T10:00:00Z"
    fixtures:
      bob: {email: bob@example.com, groups: [sre], device: {managed: true}, country: FR}
    cases:
      - name: SRE on a managed laptop goes straight in
        url: https://grafana.example.com/d/abc
        as: bob                  # omit for an anonymous caller
        country: RU              # optional: override the fixture's ip, country or device
        grant: true              # true | false | expired | unavailable
        pending: false           # an access request is open
        now: "2026-11-24T23:00:00Z"
        expect: {decision: allow, reasons: [policy-allow], policy: SRE on managed devices}

Parsing and running are pure: files arrive as `Source`s (see `policy_files`), `now` comes from
the file, and a malformed file gives located errors in the compiler's format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.core.decision import Decision
from app.core.policy.compile import Source
from app.core.policy.errors import PolicyError
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.services.policy_test_parser import PolicyCase, PolicySuite, parse_suite
from app.services.policy_test_values import UNSET, Expectation

__all__ = [
    "CaseResult",
    "PolicyCase",
    "PolicySuite",
    "parse_suite",
    "parse_suites",
    "run_case",
    "run_suite",
]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's outcome; `problems` is empty when it passed."""

    file: str
    case: str
    decision: Decision
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the decision met every expectation."""
        return not self.problems

    def __str__(self) -> str:
        return f"{self.file}: case {self.case}: {'; '.join(self.problems)}"


def parse_suites(sources: Iterable[Source]) -> tuple[list[PolicySuite], list[PolicyError]]:
    """Every test file parsed; a file with any error contributes errors and no suite."""
    suites: list[PolicySuite] = []
    errors: list[PolicyError] = []
    for source in sources:
        suite, problems = parse_suite(source)
        errors.extend(problems)
        if suite is not None:
            suites.append(suite)
    return suites, errors


def run_suite(policy_set: PolicySet, suite: PolicySuite) -> list[CaseResult]:
    """Evaluate every case of `suite` against `policy_set`."""
    return [run_case(policy_set, case, file=suite.file) for case in suite.cases]


def run_case(policy_set: PolicySet, case: PolicyCase, *, file: str) -> CaseResult:
    """Evaluate one case and compare the decision with what it expects."""
    decision = evaluate(policy_set, case.context, grants=case.grants, now=case.now)
    return CaseResult(file, case.name, decision, _problems(case.expect, decision))


def _problems(expect: Expectation, decision: Decision) -> tuple[str, ...]:
    got = f"{decision.effect.value} [{', '.join(decision.reasons)}]"
    problems: list[str] = []
    if decision.effect is not expect.decision:
        problems.append(f"expected {expect.decision.value}, got {got}")
    missing = [r.value for r in expect.reasons if r not in decision.reasons]
    if missing and not problems:
        problems.append(f"expected reasons [{', '.join(missing)}], got {got}")
    if expect.application is not UNSET and decision.application != expect.application:
        problems.append(f"expected application {expect.application}, got {decision.application}")
    if expect.policy is not UNSET and decision.policy != expect.policy:
        problems.append(f"expected policy {expect.policy!r}, got {decision.policy!r}")
    return tuple(problems)
