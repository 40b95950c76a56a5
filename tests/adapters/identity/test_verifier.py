"""JwtVerifier: every kind of bad token is refused with its own code; good ones map to an
Identity; verified tokens are cached until they expire."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.key_sources import StaticKeys
from app.adapters.identity.keys import key_from_jwk
from app.adapters.identity.verifier import JwtVerifier, TrustedIssuer
from app.config.issuers import ClaimNames
from app.core.context import Identity
from tests.adapters.identity.tokens import (
    ALICE,
    AUDIENCE,
    BOB,
    ISSUER,
    MALLORY,
    FakeClock,
    claims_for,
    ec_key,
    ed_key,
    forge_hs256,
    rsa_key,
    static_verifier,
    unsigned,
)


def verify(verifier, token: str) -> Identity:  # type: ignore[no-untyped-def]
    return asyncio.run(verifier.verify(token))


def refused(verifier, token: str) -> TokenProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(IdentityError) as caught:
        verify(verifier, token)
    return caught.value.reason


def test_alice_rs256_token_becomes_her_identity() -> None:
    """A valid RS256 token maps sub, lower-cased email, groups, amr and issuer."""
    clock, key = FakeClock(), rsa_key()
    identity = verify(static_verifier(key, clock=clock), key.sign(claims_for(ALICE, clock.now)))
    assert identity.subject == "u-alice"
    assert identity.email == "alice@example.com"
    assert identity.groups == frozenset({"engineers"})
    assert identity.amr == frozenset({"pwd", "mfa"})
    assert identity.issuer == "https://idp.example.com"
    assert identity.claims["department"] == "engineering"


def test_claims_are_read_only() -> None:
    """The claim mapping of an identity cannot be changed (it is shared through the cache)."""
    clock, key = FakeClock(), rsa_key()
    identity = verify(static_verifier(key, clock=clock), key.sign(claims_for(ALICE, clock.now)))
    with pytest.raises(TypeError):
        identity.claims["department"] = "finance"  # type: ignore[index]
    assert identity.claims["groups"] == ("engineers",)


def test_bob_es256_token_is_accepted() -> None:
    """ES256 (P-256) tokens verify."""
    clock, key = FakeClock(), ec_key()
    identity = verify(static_verifier(key, clock=clock), key.sign(claims_for(BOB, clock.now)))
    assert identity.email == "bob@example.com"


def test_eddsa_token_is_accepted() -> None:
    """EdDSA (Ed25519) tokens verify, although python-jose itself lacks EdDSA."""
    clock, key = FakeClock(), ed_key()
    identity = verify(static_verifier(key, clock=clock), key.sign(claims_for(BOB, clock.now)))
    assert identity.subject == "u-bob"


def test_alg_none_is_refused() -> None:
    """An unsigned `alg: none` token is refused as token-alg-not-allowed."""
    clock, key = FakeClock(), rsa_key()
    token = unsigned(claims_for(MALLORY, clock.now))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.ALG_NOT_ALLOWED


def test_hs256_signed_with_the_issuers_public_key_is_refused() -> None:
    """MALLORY's HS256 token keyed with the issuer's public PEM never reaches a key."""
    clock, key = FakeClock(), rsa_key()
    token = forge_hs256(claims_for(MALLORY, clock.now), key.public_pem(), kid="rsa-1")
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.ALG_NOT_ALLOWED


def test_algorithm_outside_the_issuers_allowlist_is_refused() -> None:
    """An issuer allowing only ES256 refuses a validly signed RS256 token."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock, algorithms=("ES256",))
    token = key.sign(claims_for(ALICE, clock.now))
    assert refused(verifier, token) is TokenProblem.ALG_NOT_ALLOWED


def test_expired_token_is_refused() -> None:
    """A token past exp plus leeway is token-expired."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now - 3600, ttl=600))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.EXPIRED


def test_token_just_expired_within_leeway_is_accepted() -> None:
    """Clock skew up to the leeway (30 s here) is tolerated on exp."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now - 620, ttl=600))
    assert verify(static_verifier(key, clock=clock), token).subject == "u-alice"


def test_not_yet_valid_token_is_refused() -> None:
    """A token whose nbf is beyond the leeway is token-not-yet-valid."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, nbf=int(clock.now) + 300, ttl=900))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.NOT_YET_VALID


def test_wrong_issuer_is_refused() -> None:
    """A token from an issuer we do not trust is token-issuer-unknown."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, iss="https://evil.example"))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.ISSUER_UNKNOWN


def test_wrong_audience_is_refused() -> None:
    """A token minted for another application is token-audience-invalid."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, aud="billing"))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.AUDIENCE_INVALID


def test_audience_list_containing_ours_is_accepted() -> None:
    """`aud` may be a list; one matching entry is enough."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, aud=["billing", "countersign"]))
    assert verify(static_verifier(key, clock=clock), token).subject == "u-alice"


def test_unknown_kid_is_refused() -> None:
    """A kid the issuer never published is token-key-unknown."""
    clock, key = FakeClock(), rsa_key()
    token = rsa_key("rsa-9", slot=1).sign(claims_for(ALICE, clock.now))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.KEY_UNKNOWN


def test_tampered_payload_is_refused() -> None:
    """MALLORY swapping her groups for BOB's breaks the signature: token-signature-invalid."""
    clock, key = FakeClock(), rsa_key()
    header, _, signature = key.sign(claims_for(MALLORY, clock.now)).split(".")
    forged = claims_for({**MALLORY, "groups": ["sre-leads"]}, clock.now)
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    token = f"{header}.{payload}.{signature}"
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.SIGNATURE_INVALID


def test_same_kid_from_another_key_is_refused() -> None:
    """A token signed by a different key that reuses the issuer's kid fails the signature."""
    clock, key = FakeClock(), rsa_key("rsa-1")
    token = rsa_key("rsa-1", slot=1).sign(claims_for(MALLORY, clock.now))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.SIGNATURE_INVALID


@pytest.mark.parametrize(
    "garbage",
    ["garbage", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.@@@", "é.é.é"],
)
def test_garbage_is_malformed(garbage: str) -> None:
    """Anything that is not three base64url JSON parts is token-malformed."""
    clock, key = FakeClock(), rsa_key()
    assert refused(static_verifier(key, clock=clock), garbage) is TokenProblem.MALFORMED


def test_64_kb_token_is_too_large() -> None:
    """A 64 KB token is refused before any parsing: token-too-large."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for({**ALICE, "padding": "x" * 65536}, clock.now))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.TOO_LARGE


def test_token_without_exp_is_malformed() -> None:
    """A token that never expires is not accepted."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, exp=None))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.MALFORMED


def test_token_with_crit_header_is_malformed() -> None:
    """A `crit` extension we do not implement makes the token invalid (RFC 7515)."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now), headers={"crit": ["exp"]})
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.MALFORMED


def test_non_string_email_is_malformed() -> None:
    """An email claim that is not a string is refused rather than guessed at."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for({**ALICE, "email": ["alice@example.com"]}, clock.now))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.MALFORMED


def test_unverified_email_is_dropped() -> None:
    """With `email_verified: false`, the address cannot satisfy email rules."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(
        claims_for({**MALLORY, "email": "bob@example.com", "email_verified": False}, clock.now)
    )
    identity = verify(static_verifier(key, clock=clock), token)
    assert identity.email is None
    assert identity.user == "u-mallory"


def test_groups_as_a_comma_string_are_split() -> None:
    """Groups given as "sre, sre-leads" become two groups."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for({**BOB, "groups": "sre, sre-leads"}, clock.now))
    assert verify(static_verifier(key, clock=clock), token).groups == {"sre", "sre-leads"}


def test_configured_claim_names_are_used() -> None:
    """With CLAIM_EMAIL=mail and CLAIM_GROUPS=roles, those claims fill the identity."""
    clock, key = FakeClock(), rsa_key()
    names = ClaimNames(email="mail", groups="roles")
    token = key.sign(
        claims_for({"sub": "u-bob", "mail": "BOB@example.com", "roles": ["sre"]}, clock.now)
    )
    identity = verify(static_verifier(key, clock=clock, claims=names), token)
    assert (identity.email, identity.groups) == ("bob@example.com", frozenset({"sre"}))


def test_token_without_kid_is_tried_against_fitting_keys() -> None:
    """A kid-less RS256 token (as oidc-provider-mock issues) verifies against the RSA keys."""
    clock = FakeClock()
    signer = rsa_key(None)
    verifier = static_verifier(
        ec_key(), rsa_key("other", slot=1), rsa_key("idp", slot=0), clock=clock
    )
    assert verify(verifier, signer.sign(claims_for(ALICE, clock.now))).subject == "u-alice"


def test_cached_returns_the_identity_after_verify() -> None:
    """After one verify, the sync fast path answers for the same token."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock)
    token = key.sign(claims_for(ALICE, clock.now))
    assert verifier.cached(token) is None
    identity = verify(verifier, token)
    assert verifier.cached(token) is identity


def test_cache_hit_does_not_check_the_signature_again() -> None:
    """A second verify of the same token is answered from the cache."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock)
    token = key.sign(claims_for(ALICE, clock.now))
    verify(verifier, token)
    checks = verifier.signature_checks
    verify(verifier, token)
    assert verifier.signature_checks == checks
    assert verifier.cache_hits == 1


def test_cached_token_stops_at_exp() -> None:
    """The cache never answers for a token at or past its exp."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock, token_cache_ttl=3600)
    token = key.sign(claims_for(ALICE, clock.now, ttl=120))
    verify(verifier, token)
    clock.advance(119)
    assert verifier.cached(token) is not None
    clock.advance(1)
    assert verifier.cached(token) is None


def test_cached_token_stops_at_cache_ttl() -> None:
    """A long-lived token is re-verified once the cache TTL has passed."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock, token_cache_ttl=60)
    token = key.sign(claims_for(ALICE, clock.now, ttl=3600))
    verify(verifier, token)
    clock.advance(60)
    assert verifier.cached(token) is None


def test_token_cache_is_bounded() -> None:
    """Beyond TOKEN_CACHE_SIZE, the least recently used token is forgotten."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock, token_cache_size=2)
    tokens = [key.sign(claims_for(person, clock.now)) for person in (ALICE, BOB, MALLORY)]
    for token in tokens:
        verify(verifier, token)
    assert [verifier.cached(t) is not None for t in tokens] == [False, True, True]


def test_refused_token_is_not_cached() -> None:
    """Only tokens that passed every check are remembered."""
    clock, key = FakeClock(), rsa_key()
    verifier = static_verifier(key, clock=clock)
    token = key.sign(claims_for(ALICE, clock.now, aud="billing"))
    refused(verifier, token)
    assert verifier.cached(token) is None


def test_token_issued_in_the_future_is_refused() -> None:
    """A token whose iat is beyond now plus the leeway is token-issued-in-future."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, iat=int(clock.now) + 300, nbf=None))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.ISSUED_IN_FUTURE


def test_token_issued_just_ahead_within_leeway_is_accepted() -> None:
    """Clock skew up to the leeway (30 s here) is tolerated on iat, as on nbf and exp."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, iat=int(clock.now) + 30, nbf=None))
    assert verify(static_verifier(key, clock=clock), token).subject == "u-alice"


def test_future_iat_is_refused_even_with_a_valid_nbf() -> None:
    """A past nbf does not excuse an iat minted an hour ahead."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(MALLORY, clock.now, iat=int(clock.now) + 3600, ttl=7200))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.ISSUED_IN_FUTURE


def test_token_without_iat_is_still_accepted() -> None:
    """iat is optional (RFC 7519): only a present one is checked."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(BOB, clock.now, iat=None))
    assert verify(static_verifier(key, clock=clock), token).subject == "u-bob"


@pytest.mark.parametrize("iat", ["1714989600", True, [1714989600]])
def test_non_numeric_iat_is_malformed(iat: object) -> None:
    """An iat that is not a NumericDate is refused rather than guessed at."""
    clock, key = FakeClock(), rsa_key()
    token = key.sign(claims_for(ALICE, clock.now, iat=iat))
    assert refused(static_verifier(key, clock=clock), token) is TokenProblem.MALFORMED


def test_future_iat_is_checked_with_the_configured_leeway() -> None:
    """With a 5-minute leeway, an iat 4 minutes ahead passes and one 6 minutes ahead does not."""
    clock, key = FakeClock(), rsa_key()
    issuer = TrustedIssuer(
        issuer=ISSUER,
        audiences=frozenset({AUDIENCE}),
        algorithms=frozenset({"RS256"}),
        claims=ClaimNames(),
        keys=StaticKeys([key_from_jwk(key.public_jwk())]),
    )
    verifier = JwtVerifier([issuer], clock=clock, leeway=300)
    ahead = key.sign(claims_for(ALICE, clock.now, iat=int(clock.now) + 240, nbf=None))
    too_far = key.sign(claims_for(BOB, clock.now, iat=int(clock.now) + 360, nbf=None))
    assert verify(verifier, ahead).subject == "u-alice"
    assert refused(verifier, too_far) is TokenProblem.ISSUED_IN_FUTURE
