"""`approval.starts_within` in the policy language: how far ahead a planned window may start.
Left out it is 7 days and the fingerprint is what it was; bad values are located errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.policy.model import DEFAULT_STARTS_WITHIN, Policy
from tests.core.personas import compile_errors, compile_texts

POLICY = """\
application:
  id: db
  hosts: [db.example.com]
policies:
  - name: Planned work
    action: allow
    include: [{{group: engineers}}]
    approval:
      approvers: [{{group: sre-leads}}]
{extra}"""


def approval_of(extra: str) -> Policy:
    """The one policy compiled, with `extra` lines added to its approval block."""
    app = compile_texts(POLICY.format(extra=extra)).applications["db"]
    return app.policies[0]


def test_left_out_the_horizon_is_seven_days_and_the_fingerprint_unchanged() -> None:
    """Policies written before `starts_within` existed keep their grants."""
    plain = approval_of("")
    assert plain.approval is not None
    assert plain.approval.start_horizon == DEFAULT_STARTS_WITHIN == timedelta(days=7)
    explicit = approval_of("      starts_within: 7d\n")
    assert explicit.approval is not None
    assert explicit.approval.start_horizon == timedelta(days=7)
    # Writing it down is an edit of the approval requirement, as with any other key.
    assert explicit.fingerprint != plain.fingerprint


def test_a_written_horizon_is_compiled() -> None:
    """`starts_within: 12h` bounds planned windows to the next twelve hours."""
    compiled = approval_of("      starts_within: 12h\n").approval
    assert compiled is not None
    assert compiled.start_horizon == timedelta(hours=12)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("soon", "policy.bad_duration"),
        ("30s", "policy.bad_value"),
        ("400d", "policy.bad_value"),
    ],
)
def test_a_bad_horizon_is_a_located_error(value: str, code: str) -> None:
    """`policy check` reports an unreadable or out-of-range `starts_within` at its place."""
    errors = compile_errors(POLICY.format(extra=f"      starts_within: {value}\n"))
    assert [(e.code.value, e.path) for e in errors] == [
        (code, "$.policies[0].approval.starts_within")
    ]
    assert errors[0].line == 10
