"""Mapping a verified token's claims onto an Identity: the groups claim, string or list."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.identity.claims import identity_from_claims
from app.adapters.identity.errors import IdentityError
from app.config.issuers import ClaimNames
from app.core.context import Identity
from tests.adapters.identity.tokens import ISSUER, MALLORY

NAMES = ClaimNames()


def identity(**claims: Any) -> Identity:
    """The identity MALLORY's token gives with `claims` in place of hers."""
    return identity_from_claims({**MALLORY, **claims}, issuer=ISSUER, names=NAMES)


def test_a_group_name_with_a_space_is_one_group() -> None:
    """MALLORY in "Former admins" is not thereby a member of "admins"."""
    assert identity(groups="Former admins").groups == {"Former admins"}


def test_a_string_claim_is_split_on_commas_and_trimmed() -> None:
    """ "sre, Domain Admins ,db" is three groups, each without the spaces around it."""
    assert identity(groups="sre, Domain Admins ,db").groups == {"sre", "Domain Admins", "db"}


def test_empty_pieces_of_a_string_claim_are_no_groups() -> None:
    """Stray, doubled and blank-only pieces give no group named ''."""
    assert identity(groups=" , contractors,, ,").groups == {"contractors"}
    assert identity(groups="   ").groups == frozenset()


def test_each_string_of_a_list_claim_is_one_group() -> None:
    """In a list, "Former admins" and "a, b" stay whole: the IdP already split them."""
    claimed = identity(groups=["Former admins", "a, b", "contractors"])
    assert claimed.groups == {"Former admins", "a, b", "contractors"}


def test_a_list_claim_of_other_types_is_malformed() -> None:
    """Groups that are not strings make the token malformed, not an identity."""
    with pytest.raises(IdentityError):
        identity(groups=["sre", 7])


def test_a_space_separated_amr_string_is_not_split_either() -> None:
    """The same rule holds for amr: "pwd mfa" as one string does not claim MFA."""
    assert identity(amr="pwd mfa").amr == {"pwd mfa"}
    assert identity(amr="pwd,mfa").amr == {"pwd", "mfa"}


@settings(max_examples=200)
@given(names=st.lists(st.text().filter(lambda n: "," not in n and n.strip()), max_size=6))
def test_a_comma_string_gives_exactly_its_trimmed_names(names: list[str]) -> None:
    """Joining names with commas and reading them back gives each name once, trimmed."""
    assert identity(groups=",".join(names)).groups == {name.strip() for name in names}


@settings(max_examples=200)
@given(names=st.lists(st.text(min_size=1), max_size=6))
def test_a_list_claim_gives_exactly_its_strings(names: list[str]) -> None:
    """Any non-empty strings in a list, commas and spaces included, are the groups as given."""
    assert identity(groups=names).groups == frozenset(names)
