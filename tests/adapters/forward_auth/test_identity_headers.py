"""The identity-header codec: plain values as is, anything else percent-encoded, never altered."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.forward_auth.identity_headers import (
    decode_groups,
    decode_value,
    encode_groups,
    encode_value,
    encoded_identity,
    is_plain,
)

#: Any unicode, with the characters the encoding is about made likely.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["%", ",", " ", "\t", "é", "+", "\x00", "\x7f", "Ω", "😀"]),
        st.characters(codec="utf-8"),
    )
)


@pytest.mark.parametrize(
    "value",
    ["alice@example.com", "u-1234", "Domain Admins", "sre-leads", "a+b~!$&'()*;=:/?#[]@", ""],
)
def test_plain_ascii_is_sent_as_is(value: str) -> None:
    """Printable ASCII without `%` or `,` takes the fast path and is not encoded."""
    assert is_plain(value)
    assert encode_value(value) == value


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("bobé@corp.test", "bob%C3%A9@corp.test"),
        ("adminsé", "admins%C3%A9"),
        ("Former admins, ex", "Former%20admins%2C%20ex"),
        ("100%", "100%25"),
        ("bob%40corp.test", "bob%2540corp.test"),
        (" admins", "%20admins"),
        ("admins ", "admins%20"),
        ("line\r\nX-Auth-Request-User: root", "line%0D%0AX-Auth-Request-User:%20root"),
        ("\x7f", "%7F"),
    ],
)
def test_other_values_are_percent_encoded_utf8(value: str, sent: str) -> None:
    """Non-ASCII, controls, `%`, `,` and edge spaces are percent-encoded from UTF-8."""
    assert encode_value(value) == sent
    assert decode_value(sent) == value


def test_an_encoded_name_never_equals_a_plain_one() -> None:
    """`bobé` arrives as `bob%C3%A9`, not as BOB's plain `bob`, and `%` is never plain."""
    assert encode_value("bobé@corp.test") != "bob@corp.test"
    assert encode_value("bob%C3%A9@corp.test") != encode_value("bobé@corp.test")


def test_a_comma_in_a_group_cannot_split_it() -> None:
    """The group `admins,sre` is one group, distinct from the two groups `admins` and `sre`."""
    one = encode_groups(frozenset({"admins,sre"}))
    two = encode_groups(frozenset({"admins", "sre"}))
    assert one == "admins%2Csre"
    assert two == "admins,sre"
    assert decode_groups(one) == {"admins,sre"}


def test_groups_are_sorted_and_the_empty_name_is_no_group() -> None:
    """The groups header is deterministic: encoded groups sorted, joined with commas."""
    assert encode_groups(frozenset({"sre", "", "Domain Admins"})) == "Domain Admins,sre"
    assert decode_groups("") == frozenset()


def test_a_lone_surrogate_is_sent_not_a_crash() -> None:
    """A token may hold a lone surrogate; it is encoded (surrogatepass), never a 500."""
    assert decode_value(encode_value("\ud800x")) == "\ud800x"


def test_the_same_identity_is_encoded_once() -> None:
    """Identities repeat (token cache): the encoded headers come from a cache."""
    groups = frozenset({"sre"})
    first = encoded_identity("bobé@example.com", "bobé@example.com", groups)
    assert encoded_identity("bobé@example.com", "bobé@example.com", groups) is first


@settings(max_examples=500)
@given(value=TEXT)
def test_every_value_round_trips(value: str) -> None:
    """Decoding what is sent gives back exactly the value, and it is a legal header value."""
    sent = encode_value(value)
    assert decode_value(sent) == value
    assert sent.isascii()
    assert sent == sent.strip(" ")
    assert all(0x20 <= ord(c) < 0x7F for c in sent)


@settings(max_examples=300)
@given(groups=st.frozensets(TEXT.filter(bool)))
def test_every_set_of_groups_round_trips(groups: frozenset[str]) -> None:
    """Any groups, commas and percent signs included, decode to exactly the same set."""
    assert decode_groups(encode_groups(groups)) == groups
