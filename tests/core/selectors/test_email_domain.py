"""The `email_domain` selector: the domain of the verified email, exact and case-insensitive."""

from __future__ import annotations

import pytest

from app.core.context import Identity
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.email_domain import compile_email_domain
from tests.core.personas import ALICE, BOB, MALLORY, NOW, request


def test_email_domain_matches_staff() -> None:
    """`email_domain: example.com` matches ALICE and BOB."""
    rule = compile_email_domain("example.com")
    assert rule.test(request(ALICE), NOW)
    assert rule.test(request(BOB), NOW)


def test_email_domain_does_not_match_a_contractor() -> None:
    """MALLORY's contractor.example address is not in example.com."""
    assert not compile_email_domain("example.com").test(request(MALLORY), NOW)


def test_email_domain_does_not_admit_subdomains() -> None:
    """`example.com` does not admit eve@evil.example.com."""
    eve = Identity("u-eve", email="eve@evil.example.com")
    assert not compile_email_domain("example.com").test(request(eve), NOW)


def test_email_domain_does_not_admit_a_suffix_lookalike() -> None:
    """`example.com` does not admit eve@notexample.com."""
    eve = Identity("u-eve", email="eve@notexample.com")
    assert not compile_email_domain("example.com").test(request(eve), NOW)


def test_email_domain_in_policy_is_case_insensitive() -> None:
    """`Example.COM` in a policy matches ALICE."""
    assert compile_email_domain("Example.COM").test(request(ALICE), NOW)


def test_email_domain_list_matches_any_entry() -> None:
    """A list of domains admits each of them."""
    rule = compile_email_domain(["corp.example", "contractor.example"])
    assert rule.test(request(MALLORY), NOW)
    assert not rule.test(request(ALICE), NOW)


def test_email_domain_never_matches_anonymous_or_email_less() -> None:
    """No identity, or an identity without email, has no domain."""
    rule = compile_email_domain("example.com")
    assert not rule.test(request(None), NOW)
    assert not rule.test(request(Identity("u-alice")), NOW)


def test_email_domain_reasons() -> None:
    """The rule reports `email-domain-ok` / `email-domain-not-allowed`."""
    rule = compile_email_domain("example.com")
    assert (rule.ok, rule.fail) == (Reason.EMAIL_DOMAIN_OK, Reason.EMAIL_DOMAIN_NOT_ALLOWED)


@pytest.mark.parametrize(
    "value", ["@example.com", "alice@example.com", "localhost", "exa mple.com"]
)
def test_email_domain_rejects_non_domains(value: str) -> None:
    """An address, a bare label or a value with a space is not a domain."""
    with pytest.raises(SelectorError) as info:
        compile_email_domain(value)
    assert (info.value.code, info.value.at) == ("policy.bad_value", "")


def test_email_domain_bad_entry_in_list_is_located() -> None:
    """The error names the index of the bad entry."""
    with pytest.raises(SelectorError) as info:
        compile_email_domain(["example.com", "localhost"])
    assert (info.value.code, info.value.at) == ("policy.bad_value", "[1]")


def test_email_domain_wrong_type_is_refused() -> None:
    """A mapping is not a domain list."""
    with pytest.raises(SelectorError) as info:
        compile_email_domain({"domain": "example.com"})
    assert info.value.code == "policy.wrong_type"
