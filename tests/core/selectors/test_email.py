"""The `email` selector: the verified email is one of a list, compared case-insensitively."""

from __future__ import annotations

import pytest

from app.core.context import Identity
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.email import compile_email
from tests.core.personas import ALICE, BOB, MALLORY, NOW, request


def test_email_matches_the_listed_user() -> None:
    """`email: alice@example.com` matches ALICE."""
    assert compile_email("alice@example.com").test(request(ALICE), NOW)


def test_email_does_not_match_another_user() -> None:
    """`email: alice@example.com` does not match BOB."""
    assert not compile_email("alice@example.com").test(request(BOB), NOW)


def test_email_list_matches_any_entry() -> None:
    """A list admits each of its addresses and nobody else."""
    rule = compile_email(["alice@example.com", "bob@example.com"])
    assert rule.test(request(BOB), NOW)
    assert not rule.test(request(MALLORY), NOW)


def test_email_in_policy_is_case_insensitive() -> None:
    """`Alice@Example.COM` in a policy matches ALICE's (normalised, lower-case) email."""
    assert compile_email("Alice@Example.COM").test(request(ALICE), NOW)


def test_email_is_not_a_substring_match() -> None:
    """`lice@example.com` does not match alice@example.com."""
    assert not compile_email("lice@example.com").test(request(ALICE), NOW)


def test_email_never_matches_an_anonymous_caller() -> None:
    """With no identity there is no email to compare."""
    assert not compile_email("alice@example.com").test(request(None), NOW)


def test_email_does_not_match_an_identity_without_email() -> None:
    """A token with only a subject does not match an email rule."""
    assert not compile_email("alice@example.com").test(request(Identity("u-alice")), NOW)


def test_email_reasons() -> None:
    """The rule reports `email-ok` / `email-not-allowed`."""
    rule = compile_email("alice@example.com")
    assert (rule.ok, rule.fail) == (Reason.EMAIL_OK, Reason.EMAIL_NOT_ALLOWED)


def test_email_bad_address_in_list_is_located() -> None:
    """A malformed address is reported with its list index."""
    with pytest.raises(SelectorError) as info:
        compile_email(["alice@example.com", "bob"])
    assert (info.value.code, info.value.at) == ("policy.bad_email", "[1]")


def test_email_single_bad_address_is_located_at_the_selector() -> None:
    """A scalar value has no index, so the error points at the selector itself."""
    with pytest.raises(SelectorError) as info:
        compile_email("bob")
    assert (info.value.code, info.value.at) == ("policy.bad_email", "")


@pytest.mark.parametrize("value", ["@example.com", "alice smith@example.com", "alice@"])
def test_email_rejects_malformed_addresses(value: str) -> None:
    """An address needs a local part and a domain and no spaces."""
    with pytest.raises(SelectorError) as info:
        compile_email(value)
    assert info.value.code == "policy.bad_email"


def test_email_empty_list_is_refused() -> None:
    """An empty list would match nobody, so it is refused."""
    with pytest.raises(SelectorError) as info:
        compile_email([])
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "")


def test_email_non_string_entry_is_located() -> None:
    """A number in the list is a type error at its index."""
    with pytest.raises(SelectorError) as info:
        compile_email(["alice@example.com", 42])
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "[1]")
