"""The `claim` selector: a named token claim equals a value, or a list claim contains one."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from app.core.context import Identity
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.claim import compile_claim
from tests.core.personas import ALICE, BOB, MALLORY, NOW, request


def _with_claims(identity: Identity, **claims: object) -> Identity:
    return dataclasses.replace(identity, claims=MappingProxyType(claims))


def test_claim_equals_matches_a_string_claim() -> None:
    """`{name: department, equals: engineering}` matches ALICE."""
    rule = compile_claim({"name": "department", "equals": "engineering"})
    assert rule.test(request(ALICE), NOW)


def test_claim_equals_refuses_another_value() -> None:
    """`{name: department, equals: engineering}` does not match BOB in operations."""
    rule = compile_claim({"name": "department", "equals": "engineering"})
    assert not rule.test(request(BOB), NOW)


def test_claim_equals_is_case_sensitive() -> None:
    """`Engineering` is not `engineering`."""
    rule = compile_claim({"name": "department", "equals": "Engineering"})
    assert not rule.test(request(ALICE), NOW)


def test_claim_equals_matches_a_number() -> None:
    """`{name: level, equals: 5}` matches BOB's numeric level."""
    assert compile_claim({"name": "level", "equals": 5}).test(request(BOB), NOW)


def test_claim_equals_does_not_coerce_strings_to_numbers() -> None:
    """A claim `"5"` (string) does not equal the number 5."""
    rule = compile_claim({"name": "level", "equals": 5})
    assert not rule.test(request(_with_claims(BOB, level="5")), NOW)


def test_claim_equals_does_not_treat_true_as_one() -> None:
    """A claim `true` does not equal the number 1, and `1` does not equal true."""
    assert not compile_claim({"name": "x", "equals": 1}).test(
        request(_with_claims(BOB, x=True)), NOW
    )
    assert not compile_claim({"name": "x", "equals": True}).test(
        request(_with_claims(BOB, x=1)), NOW
    )


def test_claim_equals_matches_a_boolean() -> None:
    """`{name: email_verified, equals: true}` matches a token saying true."""
    rule = compile_claim({"name": "email_verified", "equals": True})
    assert rule.test(request(_with_claims(ALICE, email_verified=True)), NOW)


def test_claim_equals_never_matches_a_list_claim() -> None:
    """`equals` compares scalars; a list claim holding the value is not equal to it."""
    rule = compile_claim({"name": "roles", "equals": "admin"})
    assert not rule.test(request(BOB), NOW)


def test_claim_contains_finds_a_value_in_a_list_claim() -> None:
    """`{name: roles, contains: admin}` matches BOB, whose roles include admin."""
    assert compile_claim({"name": "roles", "contains": "admin"}).test(request(BOB), NOW)


def test_claim_contains_refuses_a_list_without_the_value() -> None:
    """`{name: roles, contains: admin}` does not match ALICE the developer."""
    assert not compile_claim({"name": "roles", "contains": "admin"}).test(request(ALICE), NOW)


def test_claim_contains_reads_a_space_separated_string() -> None:
    """`{name: scope, contains: write}` matches BOB's `scope: "read write"`."""
    assert compile_claim({"name": "scope", "contains": "write"}).test(request(BOB), NOW)


def test_claim_contains_matches_whole_words_only() -> None:
    """`rea` is not an entry of `"read write"`."""
    assert not compile_claim({"name": "scope", "contains": "rea"}).test(request(BOB), NOW)


def test_claim_contains_does_not_split_other_string_claims_on_spaces() -> None:
    """`roles: "Former admins"` holds one role: it does not contain `admins`."""
    rule = compile_claim({"name": "roles", "contains": "admins"})
    assert not rule.test(request(_with_claims(MALLORY, roles="Former admins")), NOW)


def test_claim_contains_reads_other_string_claims_as_comma_lists() -> None:
    """`roles: "auditors, admins"` contains `admins`, trimmed."""
    rule = compile_claim({"name": "roles", "contains": "admins"})
    assert rule.test(request(_with_claims(BOB, roles="auditors, admins")), NOW)


def test_claim_contains_reads_scp_as_space_separated() -> None:
    """`scp` is space-delimited like `scope` (RFC 9068)."""
    rule = compile_claim({"name": "scp", "contains": "write"})
    assert rule.test(request(_with_claims(BOB, scp="read write")), NOW)


def test_claim_contains_is_type_strict_in_lists() -> None:
    """A list claim `["1"]` does not contain the number 1."""
    rule = compile_claim({"name": "teams", "contains": 1})
    assert not rule.test(request(_with_claims(BOB, teams=["1"])), NOW)
    assert rule.test(request(_with_claims(BOB, teams=[1])), NOW)


def test_claim_contains_number_never_matches_a_string_claim() -> None:
    """A number is never an entry of a space-separated string claim."""
    rule = compile_claim({"name": "scope", "contains": 1})
    assert not rule.test(request(_with_claims(BOB, scope="1 2")), NOW)


def test_claim_contains_ignores_scalar_non_string_claims() -> None:
    """`contains` on a number claim does not match."""
    assert not compile_claim({"name": "level", "contains": 5}).test(request(BOB), NOW)


def test_claim_missing_claim_never_matches() -> None:
    """MALLORY has no `roles` claim; neither operator matches."""
    assert not compile_claim({"name": "roles", "contains": "admin"}).test(request(MALLORY), NOW)
    assert not compile_claim({"name": "roles", "equals": "admin"}).test(request(MALLORY), NOW)


def test_claim_never_matches_anonymous() -> None:
    """No identity, no claims."""
    rule = compile_claim({"name": "department", "equals": "engineering"})
    assert not rule.test(request(None), NOW)


def test_claim_reasons() -> None:
    """The rule reports `claim-ok` / `claim-not-allowed`."""
    rule = compile_claim({"name": "level", "equals": 1})
    assert (rule.ok, rule.fail) == (Reason.CLAIM_OK, Reason.CLAIM_NOT_ALLOWED)


def test_claim_needs_a_mapping() -> None:
    """`claim: department` is a type error."""
    with pytest.raises(SelectorError) as info:
        compile_claim("department")
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "")


def test_claim_unknown_key_is_located() -> None:
    """`value` is not a claim key; the error points at it."""
    with pytest.raises(SelectorError) as info:
        compile_claim({"name": "x", "value": 1})
    assert (info.value.code, info.value.at) == ("policy.unknown_key", ".value")


def test_claim_needs_a_name() -> None:
    """A claim rule without a name is an error at `.name`."""
    with pytest.raises(SelectorError) as info:
        compile_claim({"equals": 1})
    assert (info.value.code, info.value.at) == ("policy.missing_key", ".name")


@pytest.mark.parametrize(
    "value", [{"name": "x"}, {"name": "x", "equals": 1, "contains": 1}], ids=["none", "both"]
)
def test_claim_needs_exactly_one_operator(value: dict[str, object]) -> None:
    """Exactly one of `equals` and `contains` must be given."""
    with pytest.raises(SelectorError) as info:
        compile_claim(value)
    assert info.value.code == "policy.bad_value"


@pytest.mark.parametrize("operand", [["a", "b"], {"a": 1}, None])
def test_claim_operand_must_be_a_single_value(operand: object) -> None:
    """A list, mapping or null operand is a type error at the operator."""
    with pytest.raises(SelectorError) as info:
        compile_claim({"name": "roles", "contains": operand})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".contains")
