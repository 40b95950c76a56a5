"""Escalation (`approval.escalate_after` / `escalate_to`) and `break_glass` in the policy
language: what compiles, the located errors `countersign policy check` shows for bad values,
and what the fingerprint covers (escalation: yes, it changes who approves; break-glass: no)."""

from __future__ import annotations

from datetime import timedelta

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.model import Approver, Policy
from app.core.policy.schema import policy_schema
from tests.core.personas import compile_errors, compile_texts

POLICY = """\
application:
  id: db
  hosts: [db.example.com]
policies:
  - name: Second opinion
    action: {action}
    include: [{{group: engineers}}]
{blocks}"""

APPROVAL = """\
    approval:
      approvers: [{group: sre-leads}]
      pending_ttl: 4h
"""


def compiled(blocks: str, action: str = "allow") -> Policy:
    """The one policy compiled from `blocks` (indented under the policy)."""
    app = compile_texts(POLICY.format(action=action, blocks=blocks)).applications["db"]
    return app.policies[0]


def codes(blocks: str, action: str = "allow") -> list[tuple[str, PolicyErrorCode]]:
    """(JSON path, code) of every error compiling `blocks` reports."""
    return [(e.path, e.code) for e in compile_errors(POLICY.format(action=action, blocks=blocks))]


def test_escalation_compiles_to_a_delay_and_fallback_approvers() -> None:
    """`escalate_after` and `escalate_to` become the approval's escalation; a per-group count
    on a fallback approver adds people, not quorum, so it is dropped."""
    policy = compiled(
        APPROVAL
        + "      escalate_after: 30m\n"
        + "      escalate_to: [{email: CTO@example.com}, {group: dba-leads, required: 2}]\n"
    )
    assert policy.approval is not None
    escalation = policy.approval.escalation
    assert escalation is not None
    assert escalation.after == timedelta(minutes=30)
    assert escalation.to == (Approver("email", "cto@example.com"), Approver("group", "dba-leads"))


def test_escalation_needs_both_keys() -> None:
    """A delay without fallback approvers (or the reverse) is refused, at the key given."""
    assert codes(APPROVAL + "      escalate_after: 30m\n") == [
        ("$.policies[0].approval.escalate_after", PolicyErrorCode.POLICY_ESCALATION_INCOMPLETE)
    ]
    assert codes(APPROVAL + "      escalate_to: [{email: cto@example.com}]\n") == [
        ("$.policies[0].approval.escalate_to", PolicyErrorCode.POLICY_ESCALATION_INCOMPLETE)
    ]


def test_an_escalation_that_could_never_fire_is_refused() -> None:
    """`escalate_after` at or past `pending_ttl` would never escalate: refused, not ignored."""
    blocks = APPROVAL + "      escalate_after: 4h\n      escalate_to: [{group: cto}]\n"
    assert codes(blocks) == [
        ("$.policies[0].approval.escalate_after", PolicyErrorCode.POLICY_ESCALATION_NEVER_DUE)
    ]


def test_bad_escalation_values_are_located_errors() -> None:
    """A bad duration and a bad approver form are each reported where they are."""
    blocks = APPROVAL + "      escalate_after: soon\n      escalate_to: [{grup: cto}]\n"
    found = codes(blocks)
    assert ("$.policies[0].approval.escalate_after", PolicyErrorCode.POLICY_BAD_DURATION) in found
    assert ("$.policies[0].approval.escalate_to[0]", PolicyErrorCode.POLICY_SELECTOR_SHAPE) in found


def test_break_glass_compiles_with_its_defaults() -> None:
    """Left out, `max_duration` is 1h and `review_within` 24h."""
    policy = compiled(APPROVAL + "    break_glass: {who: [{group: oncall}]}\n")
    assert policy.break_glass is not None
    assert policy.break_glass.who == (Approver("group", "oncall"),)
    assert policy.break_glass.max_duration == timedelta(hours=1)
    assert policy.break_glass.review_within == timedelta(hours=24)


def test_break_glass_needs_an_approval_block() -> None:
    """Someone must review each use: without approvers, break-glass is refused."""
    assert codes("    break_glass: {who: [{group: oncall}]}\n") == [
        ("$.policies[0].break_glass", PolicyErrorCode.POLICY_BREAK_GLASS_WITHOUT_APPROVAL)
    ]


def test_break_glass_bounds_are_located_errors() -> None:
    """Over a day of emergency access, or a review window under 5 minutes, is refused."""
    blocks = APPROVAL + (
        "    break_glass: {who: [{group: oncall}], max_duration: 2d, review_within: 1m}\n"
    )
    assert codes(blocks) == [
        ("$.policies[0].break_glass.max_duration", PolicyErrorCode.POLICY_BAD_DURATION),
        ("$.policies[0].break_glass.review_within", PolicyErrorCode.POLICY_BAD_DURATION),
    ]


def test_break_glass_only_applies_to_allow_policies() -> None:
    """On a block policy it is an action conflict, like approval and justification."""
    found = codes("    break_glass: {who: [{group: oncall}]}\n", action="block")
    assert ("$.policies[0].break_glass", PolicyErrorCode.POLICY_ACTION_CONFLICT) in found


def test_break_glass_who_is_required() -> None:
    """A break-glass block naming nobody is refused."""
    assert codes(APPROVAL + "    break_glass: {max_duration: 1h}\n") == [
        ("$.policies[0].break_glass", PolicyErrorCode.POLICY_MISSING_KEY)
    ]


def test_escalation_is_part_of_the_fingerprint_and_break_glass_is_not() -> None:
    """Adding fallback approvers changes who approves (live grants end); adding break-glass
    is another way in, and leaves the approval requirement (and grants) as they were."""
    plain = compiled(APPROVAL)
    escalating = compiled(
        APPROVAL + "      escalate_after: 30m\n      escalate_to: [{group: cto}]\n"
    )
    glass = compiled(APPROVAL + "    break_glass: {who: [{group: oncall}]}\n")
    assert escalating.fingerprint != plain.fingerprint
    assert glass.fingerprint == plain.fingerprint


def test_the_schema_lists_the_new_keys() -> None:
    """Editors learn escalate_after, escalate_to and break_glass from the generated schema."""
    defs = policy_schema()["$defs"]
    assert {"escalate_after", "escalate_to"} <= set(defs["approval"]["properties"])
    assert "break_glass" in defs["policy"]["properties"]
    assert set(defs["break_glass"]["properties"]) == {"who", "max_duration", "review_within"}
    assert defs["break_glass"]["required"] == ["who"]
