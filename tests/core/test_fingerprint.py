"""Policy fingerprints: computed at compile time over the application id, the policy name and
the approval and justification blocks, and nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.fingerprint import policy_fingerprint

APPROVERS = ["{group: sre-leads}", "{group: dba-leads, required: 1}", "{email: cto@example.com}"]


def fingerprint_of(
    *,
    app: str = "grafana",
    name: str = "Engineers",
    include: str = "{group: engineering}",
    approvers: list[str] | None = None,
    required: int = 1,
    max_duration: str = "8h",
    prompt: str = "Ticket?",
    before: str = "",
    reviewers_need: str = "",
) -> str:
    """The fingerprint of one approval policy, written with the given parts."""
    listed = ", ".join(approvers if approvers is not None else APPROVERS)
    text = f"""
application: {{id: {app}, hosts: [{app}.example.com]}}
policies:
{before}  - name: {name}
    action: allow
    include: [{include}]
    justification: {{required: true, prompt: "{prompt}", min_length: 8}}
    approval:
      approvers: [{listed}]
      approvals_required: {required}
      max_duration: {max_duration}
"""
    if reviewers_need:
        text += f"      reviewers_need: {reviewers_need}\n"
    app_ = compile_policy_set([Source(f"{app}.yaml", text)]).applications[app]
    return app_.policy_named(name).fingerprint  # type: ignore[union-attr]


def test_the_compiler_sets_a_sha256_fingerprint() -> None:
    """Every compiled policy carries 64 hex digits, the same as computing it again."""
    text = "application: {id: wiki, hosts: [wiki.example.com]}\npolicies:\n"
    text += "  - {name: Say why, action: allow, include: [{everyone: true}],"
    text += " justification: {required: true}}\n"
    app = compile_policy_set([Source("wiki.yaml", text)]).applications["wiki"]
    policy = app.policies[0]
    assert len(policy.fingerprint) == 64
    assert policy.fingerprint == policy_fingerprint("wiki", policy)


@given(order=st.permutations(APPROVERS))
def test_the_order_approvers_are_listed_in_does_not_matter(order: list[str]) -> None:
    """Listing the same approvers in another order keeps live grants."""
    assert fingerprint_of(approvers=list(order)) == fingerprint_of()


def test_edits_outside_the_requirement_keep_the_fingerprint() -> None:
    """Another include, another policy above it, `1h` for `60m`: the same fingerprint."""
    above = "  - {name: SRE, action: allow, include: [{group: sre}]}\n"
    assert fingerprint_of(include="{group: engineering}, {group: sre}") == fingerprint_of()
    assert fingerprint_of(before=above) == fingerprint_of()
    assert fingerprint_of(max_duration="480m") == fingerprint_of()


@given(
    edit=st.sampled_from(
        [
            {"required": 2},
            {"max_duration": "4h"},
            {"approvers": APPROVERS[:2]},
            {"prompt": "Incident number?"},
            {"name": "Engineers, renamed"},
            {"app": "grafana-eu"},
        ]
    )
)
def test_an_edit_to_the_requirement_changes_the_fingerprint(edit: dict[str, object]) -> None:
    """Approvers, counts, durations, the prompt, the name or the application: a new one."""
    assert fingerprint_of(**edit) != fingerprint_of()  # type: ignore[arg-type]


#: The fingerprint of `fingerprint_of()` before `reviewers_need` existed: adding the key to the
#: language must not end the grants of every policy that does not use it.
BEFORE_REVIEWERS_NEED = "3ce78999cf171026e375c529e8b5683199610744ebc7ab3371c62cca75859210"


def test_a_policy_without_reviewers_need_keeps_its_old_fingerprint() -> None:
    """Upgrading leaves live grants of policies without reviewers_need counting."""
    assert fingerprint_of() == BEFORE_REVIEWERS_NEED


@given(
    need=st.sampled_from(["{mfa: true}", "{max_auth_age: 15m}", "{mfa: true, max_auth_age: 15m}"]),
    other=st.sampled_from(
        ["{mfa: true, max_auth_age: 30m}", "{max_auth_age: 1h}", "{mfa: true, max_auth_age: 5m}"]
    ),
)
def test_reviewers_need_is_part_of_the_requirement(need: str, other: str) -> None:
    """Adding reviewers_need, or changing it, gives a new fingerprint: grants approved under a
    weaker step-up rule end."""
    assert fingerprint_of(reviewers_need=need) != fingerprint_of()
    assert fingerprint_of(reviewers_need=need) != fingerprint_of(reviewers_need=other)


def test_reviewers_need_is_fingerprinted_by_value() -> None:
    """`15m` and `900s`, or mfa spelled out as false, give the same fingerprint."""
    assert fingerprint_of(reviewers_need="{max_auth_age: 15m}") == fingerprint_of(
        reviewers_need="{max_auth_age: 900s, mfa: false}"
    )
