"""The `auth_method` selector: the token's `amr` holds at least one of the methods."""

from __future__ import annotations

import dataclasses

import pytest

from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.auth_method import compile_auth_method
from tests.core.personas import ALICE, BOB, MALLORY, NOW, request


def test_auth_method_matches_a_listed_method() -> None:
    """`auth_method: mfa` matches ALICE, who signed in with a second factor."""
    assert compile_auth_method("mfa").test(request(ALICE), NOW)


def test_auth_method_refuses_password_only() -> None:
    """`auth_method: mfa` does not match MALLORY's password-only sign-in."""
    assert not compile_auth_method("mfa").test(request(MALLORY), NOW)


def test_auth_method_list_needs_one_method() -> None:
    """`auth_method: [hwk, otp]` matches BOB (hardware key) but not ALICE."""
    rule = compile_auth_method(["hwk", "otp"])
    assert rule.test(request(BOB), NOW)
    assert not rule.test(request(ALICE), NOW)


def test_auth_method_in_policy_is_case_insensitive() -> None:
    """`auth_method: MFA` matches a token whose amr says `mfa`."""
    assert compile_auth_method("MFA").test(request(ALICE), NOW)


def test_auth_method_in_token_is_case_insensitive() -> None:
    """A token whose amr says `MFA` satisfies `auth_method: mfa` (IdPs disagree on case)."""
    shouty = dataclasses.replace(ALICE, amr=frozenset({"PWD", "MFA"}))
    assert compile_auth_method("mfa").test(request(shouty), NOW)


def test_auth_method_never_matches_anonymous() -> None:
    """No identity, no amr."""
    assert not compile_auth_method("mfa").test(request(None), NOW)


def test_auth_method_reasons() -> None:
    """The rule reports `auth-method-ok` / `auth-method-not-allowed`."""
    rule = compile_auth_method("mfa")
    assert (rule.ok, rule.fail) == (Reason.AUTH_METHOD_OK, Reason.AUTH_METHOD_NOT_ALLOWED)


def test_auth_method_bad_entry_is_located() -> None:
    """A non-string method is an error at its index."""
    with pytest.raises(SelectorError) as info:
        compile_auth_method(["mfa", True])
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "[1]")


def test_auth_method_mapping_is_refused() -> None:
    """A mapping is not a method list."""
    with pytest.raises(SelectorError) as info:
        compile_auth_method({"amr": "mfa"})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "")
