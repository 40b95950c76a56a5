"""Authenticator: headers in, (Identity or None, problem code) out; never raises for a token."""

from __future__ import annotations

import asyncio

from app.adapters.identity.authenticate import Authenticator
from tests.adapters.identity.tokens import ALICE, FakeClock, claims_for, rsa_key, static_verifier


def authenticator(clock: FakeClock) -> Authenticator:
    return Authenticator(
        static_verifier(rsa_key(), clock=clock),
        cookie_name="countersign_session",
        assertion_header="x-forwarded-access-token",
    )


def test_alice_with_a_session_cookie_is_identified() -> None:
    """A valid token in the cookie gives ALICE's identity and no problem."""
    clock = FakeClock()
    token = rsa_key().sign(claims_for(ALICE, clock.now))
    identity, problem = asyncio.run(
        authenticator(clock)({"cookie": f"countersign_session={token}"})
    )
    assert identity is not None
    assert (identity.email, problem) == ("alice@example.com", None)


def test_no_credentials_is_anonymous_without_a_problem() -> None:
    """No token at all is (None, None): sign in first, nothing went wrong."""
    assert asyncio.run(authenticator(FakeClock())({})) == (None, None)


def test_bad_token_is_anonymous_with_its_code() -> None:
    """A refused token is (None, code); the code is what the decision log records."""
    result = asyncio.run(authenticator(FakeClock())({"authorization": "Bearer nonsense"}))
    assert result == (None, "token-malformed")


def test_ambiguous_cookies_are_anonymous_with_their_code() -> None:
    """Extraction problems are reported the same way."""
    headers = {"cookie": "countersign_session=a.b.c; countersign_session=d.e.f"}
    assert asyncio.run(authenticator(FakeClock())(headers)) == (None, "token-ambiguous")
