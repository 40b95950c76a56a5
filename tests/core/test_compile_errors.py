"""Compiling reports every error at once, each located: file:line:column, JSON path, code."""

from __future__ import annotations

import re
import time

import pytest

from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.source import MAX_SOURCE_BYTES
from tests.core.personas import compile_errors, compile_texts

FILE = "policy_rules/apps/wiki.yaml"
#: `FILE:LINE:COL $.path: message [code]`, with a 1-based position and a dotted code.
FORMAT = re.compile(
    r"^(?P<file>\S+):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*) (?P<path>\$\S*): .+ \[[a-z]+\.[a-z_]+\]$"
)

HEAD = """\
application:
  id: wiki
  hosts: [wiki.example.com]
policies:
"""

MANY_MISTAKES = """\
application:
  id: wiki
  hosts: [wiki.example.com]
  paths: ["/"]
  colour: blue
policies:
  - name: Staff
    action: alow
    inclde: [{email_domain: example.com}]
  - name: SRE
    action: allow
    include: [{group: sre}]
    require:
      - grup: sre
      - ip: [10.0.0.0/8, 10.0.0.1/8]
    exclude: [{country: [RU, XX]}]
  - name: Leads
    action: allow
    include: [{everyone: true}]
    approval:
      approvers: [{email: cto@example.com}]
      approvals_required: 2
      default_duration: 8h
      max_duration: 1h
      pending_ttl: 1y
"""


def errors_in(text: str, file: str = FILE) -> tuple[PolicyError, ...]:
    """The errors of one document compiled under `file`."""
    with pytest.raises(PolicyCompileError) as info:
        compile_policy_set([Source(file, text)])
    return info.value.errors


def policy(body: str) -> str:
    """A valid application header followed by the given policies block."""
    return HEAD + body


def only(errors: tuple[PolicyError, ...]) -> PolicyError:
    """The single error of a document with exactly one mistake."""
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# -- format and collection -----------------------------------------------------------------


def test_error_renders_as_file_line_column_path_message_code() -> None:
    """An unknown selector renders exactly as the style guide shows."""
    error = next(e for e in errors_in(MANY_MISTAKES) if e.code == "policy.unknown_selector")
    assert str(error) == (
        f"{FILE}:14:9 $.policies[1].require[0].grup: "
        "unknown selector 'grup' (did you mean 'group'?) [policy.unknown_selector]"
    )


def test_every_error_of_a_file_is_reported_at_once() -> None:
    """One file with ten mistakes yields ten errors, not the first one."""
    codes = [(e.path, e.code) for e in errors_in(MANY_MISTAKES)]
    assert codes == [
        ("$.application.colour", "policy.unknown_key"),
        ("$.policies[0].include", "policy.empty_include"),
        ("$.policies[0].action", "policy.bad_action"),
        ("$.policies[0].inclde", "policy.unknown_key"),
        ("$.policies[1].require[0].grup", "policy.unknown_selector"),
        ("$.policies[1].require[1].ip[1]", "policy.bad_cidr"),
        ("$.policies[1].exclude[0].country[1]", "policy.bad_country"),
        ("$.policies[2].approval.approvals_required", "policy.approvals_exceed_approvers"),
        ("$.policies[2].approval.default_duration", "policy.duration_order"),
        ("$.policies[2].approval.pending_ttl", "policy.bad_duration"),
    ]


def test_every_error_has_the_documented_format() -> None:
    """Each rendered error matches `FILE:LINE:COL $.path: message [code]`."""
    for error in errors_in(MANY_MISTAKES):
        match = FORMAT.match(str(error))
        assert match, str(error)
        assert match["file"] == FILE


def test_errors_are_sorted_by_file_then_position() -> None:
    """Errors come back in reading order, file by file."""
    errors = compile_errors(MANY_MISTAKES, MANY_MISTAKES.replace("id: wiki", "id: wiki2"))
    keys = [(e.file, e.line, e.column) for e in errors]
    assert keys == sorted(keys)
    assert {e.file for e in errors} == {"apps/0.yaml", "apps/1.yaml"}


def test_errors_from_every_file_are_collected() -> None:
    """A syntax error in one file does not hide a bad selector in another."""
    errors = compile_errors(
        "application: [unclosed\n", policy("  - {name: a, action: allow, include: [{grup: x}]}\n")
    )
    assert [(e.file, e.code) for e in errors] == [
        ("apps/0.yaml", "yaml.syntax"),
        ("apps/1.yaml", "policy.unknown_selector"),
    ]


def test_error_as_dict_carries_every_field() -> None:
    """The JSON form used by the API and `policy check --json` has all six fields."""
    error = only(errors_in(policy("  - {name: a, action: allow, include: [{grup: x}]}\n")))
    assert error.as_dict() == {
        "file": FILE,
        "line": 5,
        "column": 41,
        "path": "$.policies[0].include[0].grup",
        "code": "policy.unknown_selector",
        "message": "unknown selector 'grup' (did you mean 'group'?)",
    }


def test_compile_error_counts_its_errors() -> None:
    """The exception's message states how many errors were found."""
    with pytest.raises(PolicyCompileError, match=r"^10 policy error\(s\)$"):
        compile_policy_set([Source(FILE, MANY_MISTAKES)])


# -- unknown names and did-you-mean ----------------------------------------------------------


def test_unknown_selector_suggests_the_close_one() -> None:
    """'grup' → did you mean 'group'."""
    error = only(errors_in(policy("  - {name: a, action: allow, include: [{grup: sre}]}\n")))
    assert error.code == "policy.unknown_selector"
    assert error.message == "unknown selector 'grup' (did you mean 'group'?)"


def test_unknown_selector_without_close_match_has_no_suggestion() -> None:
    """A name like nothing known gets no guess."""
    error = only(errors_in(policy("  - {name: a, action: allow, include: [{zzzz: 1}]}\n")))
    assert error.message == "unknown selector 'zzzz'"


def test_unknown_policy_key_suggests_the_close_one() -> None:
    """'requre' in a policy → did you mean 'require', located at the key."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n    requre: []\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path, error.line, error.column) == (
        "policy.unknown_key",
        "$.policies[0].requre",
        8,
        5,
    )
    assert "(did you mean 'require'?)" in error.message


def test_unknown_top_level_key_suggests_policies() -> None:
    """'polices' at the top → unknown key with a suggestion, plus the missing 'policies'."""
    text = HEAD.replace("policies:", "polices:") + "  - {name: a, action: allow, include: []}\n"
    errors = errors_in(text)
    assert [(e.path, e.code) for e in errors] == [
        ("$", "policy.missing_key"),
        ("$.polices", "policy.unknown_key"),
    ]
    assert "(did you mean 'policies'?)" in errors[1].message


def test_unknown_application_key_suggests_the_close_one() -> None:
    """'host' under application → did you mean 'hosts'."""
    text = "application: {id: wiki, hosts: [w.example.com], host: x}\npolicies:\n"
    text += "  - {name: a, action: allow, include: [{everyone: true}]}\n"
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.unknown_key", "$.application.host")
    assert "(did you mean 'hosts'?)" in error.message


def test_unknown_action_suggests_the_close_one() -> None:
    """'alow' → did you mean 'allow'."""
    error = only(errors_in(policy("  - {name: a, action: alow, include: [{everyone: true}]}\n")))
    assert (error.code, error.path) == ("policy.bad_action", "$.policies[0].action")
    assert "(did you mean 'allow'?)" in error.message


def test_unknown_approval_key_is_reported() -> None:
    """'approvers_required' inside approval is an unknown key with a suggestion."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{group: sre}], approvers_required: 1}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.unknown_key",
        "$.policies[0].approval.approvers_required",
    )
    assert "(did you mean 'approvals_required'?)" in error.message


# -- selector values ---------------------------------------------------------------------------


def test_bad_cidr_is_located_at_the_list_item() -> None:
    """A CIDR with host bits set points at that item's line and column."""
    text = policy(
        "  - name: a\n    action: allow\n    include:\n      - ip: [10.0.0.0/8, 10.0.0.1/8]\n"
    )
    error = only(errors_in(text))
    assert str(error) == (
        f"{FILE}:8:26 $.policies[0].include[0].ip[1]: "
        "'10.0.0.1/8' is not a valid CIDR: 10.0.0.1/8 has host bits set [policy.bad_cidr]"
    )


def test_bad_country_is_located_at_the_list_item() -> None:
    """An unknown country code points at that item."""
    text = policy("  - {name: a, action: allow, include: [{country: [FR, ZZ]}]}\n")
    error = only(errors_in(text))
    assert (error.code, error.path, error.line) == (
        "policy.bad_country",
        "$.policies[0].include[0].country[1]",
        5,
    )


def test_selector_with_two_keys_is_a_shape_error() -> None:
    """`{group: sre, email: x}` is two selectors in one item."""
    text = policy("  - {name: a, action: allow, include: [{group: sre, email: a@b.c}]}\n")
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.selector_shape", "$.policies[0].include[0]")


def test_selector_list_must_be_a_list() -> None:
    """`include: {group: sre}` (a mapping, not a list) is a type error."""
    error = only(errors_in(policy("  - {name: a, action: allow, include: {group: sre}}\n")))
    assert (error.code, error.path) == ("policy.wrong_type", "$.policies[0].include")


# -- durations and approvals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_duration", "1y"),
        ("max_duration", "0h"),
        ("pending_ttl", "90"),
        ("pending_ttl", "3661d"),
        ("default_duration", "PT1H"),
    ],
)
def test_bad_duration_is_located(field: str, value: str) -> None:
    """Malformed, zero, unit-less, too long or ISO durations are refused at their key."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        f"    approval: {{approvers: [{{group: sre}}], {field}: {value}}}\n"
    )
    errors = errors_in(text)
    bad = [e for e in errors if e.code == "policy.bad_duration"]
    assert [e.path for e in bad] == [f"$.policies[0].approval.{field}"]


def test_bad_session_duration_is_located() -> None:
    """A numeric session_duration is not a duration."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    justification: {session_duration: 3600}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.bad_duration",
        "$.policies[0].justification.session_duration",
    )


def test_default_duration_longer_than_max_is_refused() -> None:
    """default_duration 8h with max_duration 1h is a duration_order error."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{group: sre}], default_duration: 8h, max_duration: 1h}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.duration_order",
        "$.policies[0].approval.default_duration",
    )


def test_default_duration_alone_above_builtin_max_is_fine() -> None:
    """Without max_duration the maximum is the default itself, so a long default compiles."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{group: sre}], default_duration: 12h}\n"
    )
    approval = compile_texts(text).applications["wiki"].policies[0].approval
    assert approval is not None
    assert approval.max_duration == approval.default_duration


def test_more_approvals_than_email_approvers_is_refused() -> None:
    """Two approvals cannot come from one email approver."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{email: cto@example.com}], approvals_required: 2}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.approvals_exceed_approvers",
        "$.policies[0].approval.approvals_required",
    )
    assert error.message == "approvals_required is 2 but only 1 approver(s) can approve"


def test_the_same_email_twice_counts_once() -> None:
    """Listing cto@ twice does not make two approvers."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval:\n      approvers: [{email: cto@example.com}, {email: CTO@example.com}]\n"
        "      approvals_required: 2\n"
    )
    assert only(errors_in(text)).code == "policy.approvals_exceed_approvers"


def test_group_quotas_above_approvals_required_are_refused() -> None:
    """Groups that require 3 approvals in all cannot fit approvals_required 2."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval:\n      approvers: [{group: sre, required: 2}, {group: sec, required: 1}]\n"
        "      approvals_required: 2\n"
    )
    error = only(errors_in(text))
    assert error.code == "policy.approvals_exceed_approvers"
    assert "require 3 approvals" in error.message


def test_a_group_approver_can_give_many_approvals() -> None:
    """approvals_required 2 with one group approver compiles (the group may have many people)."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{group: sre-leads}], approvals_required: 2}\n"
    )
    approval = compile_texts(text).applications["wiki"].policies[0].approval
    assert approval is not None
    assert approval.approvals_required == 2


@pytest.mark.parametrize("action", ["block", "bypass"])
def test_approval_on_a_non_allow_policy_is_refused(action: str) -> None:
    """Approval only makes sense on allow; on block or bypass it is an action_conflict."""
    text = policy(
        f"  - name: a\n    action: {action}\n    include: [{{everyone: true}}]\n"
        "    approval: {approvers: [{group: sre}]}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.action_conflict", "$.policies[0].approval")


def test_justification_on_a_block_policy_is_refused() -> None:
    """Justification on block is an action_conflict."""
    text = policy(
        "  - name: a\n    action: block\n    include: [{everyone: true}]\n"
        "    justification: {prompt: Why?}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.action_conflict", "$.policies[0].justification")


def test_justification_required_false_is_refused() -> None:
    """`required: false` is not a way to turn justification off."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    justification: {required: false}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.bad_value", "$.policies[0].justification.required")


def test_justification_bad_pattern_is_refused() -> None:
    """An invalid regular expression is a bad_pattern error."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    justification: {pattern: '(unclosed'}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.bad_pattern",
        "$.policies[0].justification.pattern",
    )


def test_approver_must_be_group_or_email() -> None:
    """`{user: bob}` is not an approver."""
    text = policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval: {approvers: [{user: bob}]}\n"
    )
    codes = {(e.code, e.path) for e in errors_in(text)}
    assert ("policy.unknown_key", "$.policies[0].approval.approvers[0].user") in codes
    assert ("policy.selector_shape", "$.policies[0].approval.approvers[0]") in codes


# -- reviewers_need (step-up for approvers) --------------------------------------------------


NEED = "$.policies[0].approval.reviewers_need"


def reviewers_need(value: str) -> str:
    """An approval policy whose approval block carries `reviewers_need: <value>`."""
    return policy(
        "  - name: a\n    action: allow\n    include: [{everyone: true}]\n"
        "    approval:\n      approvers: [{group: sre-leads}]\n"
        f"      reviewers_need: {value}\n"
    )


def test_reviewers_need_compiles_into_the_approval() -> None:
    """`{mfa: true, max_auth_age: 15m}` becomes a requirement of MFA within 900 seconds."""
    approval = (
        compile_texts(reviewers_need("{mfa: true, max_auth_age: 15m}"))
        .applications["wiki"]
        .policies[0]
        .approval
    )
    assert approval is not None
    assert approval.reviewers_need is not None
    assert approval.reviewers_need.mfa is True
    assert approval.reviewers_need.max_age_seconds == 900


@pytest.mark.parametrize(
    ("value", "code", "path", "line", "column"),
    [
        (
            "{mfa: yes please}",
            "policy.wrong_type",
            "$.policies[0].approval.reviewers_need.mfa",
            10,
            24,
        ),
        ("{mfa: 1}", "policy.wrong_type", "$.policies[0].approval.reviewers_need.mfa", 10, 24),
        (
            "{max_auth_age: 15}",
            "policy.bad_duration",
            "$.policies[0].approval.reviewers_need.max_auth_age",
            10,
            24,
        ),
        (
            "{max_auth_age: 30s}",
            "policy.bad_duration",
            "$.policies[0].approval.reviewers_need.max_auth_age",
            10,
            24,
        ),
        (
            "{max_auth_age: 2d}",
            "policy.bad_duration",
            "$.policies[0].approval.reviewers_need.max_auth_age",
            10,
            24,
        ),
        (
            "{max_auth_age: }",
            "policy.missing_key",
            "$.policies[0].approval.reviewers_need.max_auth_age",
            10,
            24,
        ),
        ("{}", "policy.bad_value", "$.policies[0].approval.reviewers_need", 10, 7),
        ("{mfa: false}", "policy.bad_value", "$.policies[0].approval.reviewers_need", 10, 7),
        ("mfa", "policy.wrong_type", "$.policies[0].approval.reviewers_need", 10, 7),
        ("", "policy.wrong_type", "$.policies[0].approval.reviewers_need", 0, 0),
        (
            "{mfa: true, max_age: 15m}",
            "policy.unknown_key",
            "$.policies[0].approval.reviewers_need.max_age",
            10,
            35,
        ),
    ],
)
def test_bad_reviewers_need_is_located(
    value: str, code: str, path: str, line: int, column: int
) -> None:
    """Wrong types, durations outside 1m..24h, an empty or unknown key: one coded error each."""
    error = only(errors_in(reviewers_need(value)))
    assert (error.code, error.path) == (code, path)
    if line:
        assert (error.line, error.column) == (line, column)


def test_unknown_reviewers_need_key_suggests_the_close_one() -> None:
    """'max_auth_ag' → did you mean 'max_auth_age'."""
    error = only(errors_in(reviewers_need("{max_auth_ag: 15m}")))
    assert "(did you mean 'max_auth_age'?)" in error.message


def test_the_auth_age_bounds_are_inclusive() -> None:
    """1m and 24h are accepted: the bounds themselves are in range."""
    for value in ("1m", "24h", "60s", "1440m"):
        compile_texts(reviewers_need(f"{{max_auth_age: {value}}}"))


# -- applications and routes -------------------------------------------------------------------


def test_duplicate_application_id_is_located_in_the_second_file() -> None:
    """Two files with id `wiki` → an error in the second naming the first."""
    first = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n")
    second = first.replace("wiki.example.com", "wiki2.example.com")
    error = only(compile_errors(first, second))
    assert str(error) == (
        "apps/1.yaml:2:3 $.application.id: application id 'wiki' is already used by "
        "apps/0.yaml [policy.duplicate_application]"
    )


def test_two_applications_claiming_the_same_host_and_path_conflict() -> None:
    """wiki and docs both on wiki.example.com/ → a conflicting_route error."""
    first = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n")
    second = first.replace("id: wiki", "id: docs")
    error = only(compile_errors(first, second))
    assert (error.file, error.code, error.path) == (
        "apps/1.yaml",
        "policy.conflicting_route",
        "$.application.hosts",
    )
    assert "already claimed by application 'wiki'" in error.message


def test_same_host_different_paths_do_not_conflict() -> None:
    """wiki on / and docs on /docs share a host without conflict."""
    first = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n")
    second = first.replace("id: wiki", "id: docs").replace(
        "hosts: [wiki.example.com]", "hosts: [wiki.example.com]\n  paths: [/docs]"
    )
    assert set(compile_texts(first, second).applications) == {"wiki", "docs"}


@pytest.mark.parametrize(
    "host", ["https://wiki.example.com", "wiki.example.com:443", "wiki.example.com/x", "a.*.com"]
)
def test_bad_host_is_refused(host: str) -> None:
    """Hosts carry no scheme, port or path, and a wildcard only leads."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n").replace(
        "[wiki.example.com]", f"['{host}']"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.bad_host", "$.application.hosts[0]")


@pytest.mark.parametrize("path", ["/a//b", "/a/./b", "/a/../b", "/a?x=1", "/a/*", "api"])
def test_bad_path_prefix_is_refused(path: str) -> None:
    """Path prefixes must be in normal form, with no query or wildcard."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n").replace(
        "hosts: [wiki.example.com]", f"hosts: [wiki.example.com]\n  paths: ['{path}']"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.bad_path", "$.application.paths[0]")


@pytest.mark.parametrize("app_id", ["Wiki", "-wiki", "wiki app", "w" * 64])
def test_bad_application_id_is_refused(app_id: str) -> None:
    """Ids are short lower-case slugs."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n").replace(
        "id: wiki", f"id: '{app_id}'"
    )
    assert only(errors_in(text)).code == "policy.bad_id"


def test_duplicate_policy_names_are_refused() -> None:
    """Two policies named `a` in one application."""
    text = policy(
        "  - {name: a, action: allow, include: [{everyone: true}]}\n"
        "  - {name: a, action: block, include: [{everyone: true}]}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.duplicate_policy", "$.policies[1].name")


# -- missing or empty parts are errors, never silently dropped ---------------------------------


def test_missing_application_is_an_error() -> None:
    """A file with policies but no application block is refused, not skipped."""
    text = "policies:\n  - {name: a, action: allow, include: [{everyone: true}]}\n"
    error = only(errors_in(text))
    assert (error.code, error.path, error.message) == (
        "policy.missing_key",
        "$",
        "a policy file needs 'application'",
    )


def test_empty_application_mapping_is_an_error() -> None:
    """`application: {}` lacks id and hosts, and says so."""
    text = "application: {}\npolicies:\n  - {name: a, action: allow, include: [{everyone: true}]}\n"
    errors = errors_in(text)
    assert {(e.code, e.path, e.message) for e in errors} == {
        ("policy.missing_key", "$.application", "application needs 'id'"),
        ("policy.missing_key", "$.application", "application needs 'hosts'"),
    }


def test_null_hosts_is_an_error() -> None:
    """`hosts:` left empty is refused, not an application nobody can reach."""
    text = "application: {id: wiki, hosts: }\npolicies:\n"
    text += "  - {name: a, action: allow, include: [{everyone: true}]}\n"
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.missing_key", "$.application.hosts")


def test_null_policies_is_an_error() -> None:
    """`policies:` left empty is refused, not an application with no policies."""
    error = only(errors_in(HEAD))
    assert (error.code, error.path) == ("policy.missing_key", "$.policies")


def test_empty_policies_list_is_an_error() -> None:
    """`policies: []` is refused."""
    error = only(errors_in(HEAD.replace("policies:", "policies: []")))
    assert (error.code, error.path) == ("policy.wrong_type", "$.policies")


def test_empty_policy_mapping_is_an_error() -> None:
    """A policy written as `{}` is reported (name, action, include), not dropped."""
    errors = errors_in(policy("  - {}\n"))
    assert {e.code for e in errors} == {"policy.missing_key", "policy.empty_include"}
    assert {e.path for e in errors} == {"$.policies[0]", "$.policies[0].include"}
    assert len(errors) == 3


def test_policy_with_empty_name_is_an_error_not_dropped() -> None:
    """`name:` left empty on a block policy is an error; dropping it would open the door."""
    text = policy(
        "  - {name: , action: block, include: [{group: contractors}]}\n"
        "  - {name: rest, action: allow, include: [{everyone: true}]}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.missing_key", "$.policies[0].name")


def test_policy_with_empty_action_is_an_error_not_dropped() -> None:
    """`action:` left empty is an error."""
    error = only(errors_in(policy("  - {name: a, action: , include: [{everyone: true}]}\n")))
    assert (error.code, error.path) == ("policy.missing_key", "$.policies[0].action")


def test_empty_justification_block_means_defaults_not_plain_allow() -> None:
    """`justification: {}` requires a justification with the defaults."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}], justification: {}}\n")
    justification = compile_texts(text).applications["wiki"].policies[0].justification
    assert justification is not None
    assert (justification.prompt, justification.min_length) == ("Why do you need access?", 10)


def test_empty_approval_block_is_an_error_not_plain_allow() -> None:
    """`approval: {}` has no approvers and is refused."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}], approval: {}}\n")
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.missing_key", "$.policies[0].approval")


def test_null_approvers_is_an_error_not_plain_allow() -> None:
    """`approvers:` left empty is refused."""
    text = policy(
        "  - {name: a, action: allow, include: [{everyone: true}], approval: {approvers: }}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == ("policy.missing_key", "$.policies[0].approval.approvers")


def test_empty_approver_entry_is_an_error_not_plain_allow() -> None:
    """`approvers: [{}]` is refused."""
    text = policy(
        "  - {name: a, action: allow, include: [{everyone: true}], approval: {approvers: [{}]}}\n"
    )
    error = only(errors_in(text))
    assert (error.code, error.path) == (
        "policy.selector_shape",
        "$.policies[0].approval.approvers[0]",
    )


def test_missing_include_is_an_error() -> None:
    """A policy with no include is refused with the `everyone` hint."""
    error = only(errors_in(policy("  - {name: a, action: allow}\n")))
    assert (error.code, error.path) == ("policy.empty_include", "$.policies[0].include")
    assert "[{everyone: true}]" in error.message


def test_empty_include_list_is_an_error() -> None:
    """`include: []` is refused: nothing is open by accident."""
    error = only(errors_in(policy("  - {name: a, action: allow, include: []}\n")))
    assert (error.code, error.path, error.line) == (
        "policy.empty_include",
        "$.policies[0].include",
        5,
    )


# -- YAML itself ------------------------------------------------------------------------------


def test_yaml_syntax_error_carries_its_position() -> None:
    """An unclosed flow sequence is a yaml.syntax error at the place the parser stopped."""
    error = only(errors_in("application:\n  id: wiki\n  hosts: [wiki.example.com\npolicies: []\n"))
    assert error.code == "yaml.syntax"
    assert (error.line, error.column) == (4, 9)
    assert error.message.startswith("YAML syntax: ")
    assert FORMAT.match(str(error))


def test_tab_indentation_is_a_syntax_error() -> None:
    """A tab where indentation is expected is a located syntax error."""
    error = only(errors_in("application:\n\tid: wiki\n"))
    assert (error.code, error.line) == ("yaml.syntax", 2)


def test_two_documents_in_one_file_is_a_syntax_error() -> None:
    """One application per file: a second YAML document is refused."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}]}\n")
    assert only(errors_in(text + "---\n" + text)).code == "yaml.syntax"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_document_is_refused(text: str) -> None:
    """A list or a scalar document is not a policy file."""
    error = only(errors_in(text))
    assert (error.code, error.path, error.line, error.column) == ("yaml.not_a_mapping", "$", 1, 1)


def test_document_marker_alone_is_not_a_mapping() -> None:
    """`---` and nothing else is a null document, located after the marker."""
    error = only(errors_in("---\n"))
    assert (error.code, error.line, error.column) == ("yaml.not_a_mapping", 2, 1)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_refused(text: str) -> None:
    """An empty (or comment-only) file is yaml.empty at 1:1."""
    error = only(errors_in(text))
    assert str(error) == f"{FILE}:1:1 $: file is empty [yaml.empty]"


def test_duplicate_yaml_key_is_located_at_the_second_key() -> None:
    """`action` twice in a policy points at the second occurrence."""
    text = policy(
        "  - name: a\n    action: allow\n    action: block\n    include: [{everyone: true}]\n"
    )
    error = only(errors_in(text))
    assert str(error) == (
        f"{FILE}:7:5 $.policies[0].action: key 'action' appears twice [yaml.duplicate_key]"
    )


def test_non_string_key_is_refused() -> None:
    """A numeric key is a yaml.bad_key error."""
    text = policy("  - {name: a, action: allow, include: [{everyone: true}], 7: x}\n")
    assert only(errors_in(text)).code == "yaml.bad_key"


def test_complex_key_is_refused() -> None:
    """A list used as a key is a yaml.bad_key error located at the key."""
    errors = errors_in("? [a, b]\n: 1\n")
    bad = [e for e in errors if e.code == "yaml.bad_key"]
    assert [(e.path, e.line, e.column) for e in bad] == [("$", 1, 3)]
    assert bad[0].message == "keys must be strings, got a list or mapping"


def test_oversized_file_is_refused_before_parsing() -> None:
    """A file over 1 MB is yaml.too_large."""
    text = "# " + "x" * MAX_SOURCE_BYTES + "\n"
    assert only(errors_in(text)).code == "yaml.too_large"


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def test_billion_laughs_fails_fast_with_too_complex() -> None:
    """Ten levels of tenfold aliases (10^10 nodes) stop at the node bound within seconds."""
    started = time.perf_counter()
    error = only(errors_in(BILLION_LAUGHS + "\n"))
    elapsed = time.perf_counter() - started
    assert (error.code, error.path) == ("yaml.too_complex", "$")
    assert elapsed < 5.0


@pytest.mark.parametrize(
    "key", ["[" * 400 + "]" * 400, "{a: " * 300 + "1" + "}" * 300], ids=["list", "mapping"]
)
def test_deeply_nested_key_is_refused_not_a_crash(key: str) -> None:
    """A deeply nested list or mapping used as a key is a bad_key error, not a RecursionError."""
    errors = errors_in(f"? {key}\n: 1\n")
    assert ("yaml.bad_key", "$") in {(e.code, e.path) for e in errors}


@pytest.mark.parametrize("depth", [400, 990])
def test_deeply_nested_document_is_too_complex_not_a_crash(depth: int) -> None:
    """Hundreds of nested lists give a located error instead of a RecursionError."""
    error = only(errors_in("[" * depth + "]" * depth + "\n"))
    assert (error.code, error.path, error.line, error.column) == ("yaml.too_complex", "$", 1, 1)
    assert "nests deeper" in error.message


def test_deeply_nested_mappings_are_too_complex() -> None:
    """Nested flow mappings are bounded the same way."""
    error = only(errors_in("{a: " * 300 + "1" + "}" * 300 + "\n"))
    assert error.code == "yaml.too_complex"
