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
